"""CLI commands beyond the core ones, one module per area; each registers on `groundswell.cli.app`
and is imported at the bottom of `groundswell/cli.py`."""
