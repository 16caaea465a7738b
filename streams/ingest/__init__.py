"""Real launchpad feeds in: pure frame decoders (one per source) and thin connectors over them."""
