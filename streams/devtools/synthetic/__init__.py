"""Seeded synthetic inputs for tests and benches: model pairs, store rows, training frames."""
