"""The bodies of ``alphastream bench engine|scoring|sink|e2e|state`` (the CLI only prints)."""
