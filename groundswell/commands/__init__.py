"""CLI commands beyond the core ones, one module per area; each registers on
`groundswell.app.app` (never importing `groundswell.cli`) and is imported at the bottom of
`groundswell/cli.py`."""
