"""The domain: Groundswell's rules and records, pure (no network, no SQL, no Streamlit).

Every other layer imports from here and this package imports from none of them
(docs/architecture.md; the contract in pyproject.toml's [tool.importlinter])."""
