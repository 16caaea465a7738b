"""Drift monitor: pure metrics and verdict, thin adapters for ClickHouse, reports and alerts."""
