"""The Streamlit dashboard: thin pages over the named query functions in `storage.queries`."""
