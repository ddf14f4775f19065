"""nodicorn's Python worker: runs a PEP 3333 application for the nodicorn server (stdlib only)."""
