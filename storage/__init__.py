"""Storage: the SQL model, migrations, the bulk write path and the named query functions.

Storage owns all SQL; nothing outside this package writes a query (the dashboard calls the
functions in `storage.queries`).
"""
