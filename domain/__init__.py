"""Pure domain rules: no I/O, no SQL (issue 21)."""
