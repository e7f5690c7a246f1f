"""What the wall and moderator pages share: the store engine and the configured settings."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from domain.settings.config import ConfigError, Settings, load_settings
from net.fetcher import configure as configure_network
from storage.engine import make_engine, resolve_db_url


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """One engine per store URL for the whole Streamlit process (GROUNDSWELL_DB_URL)."""
    return _engine(resolve_db_url())


def settings() -> Settings:
    """The config file's settings (read on each full page run: a small TOML file, and edits
    then apply without a restart); a broken file stops the page with the reason."""
    try:
        settings = load_settings()[0]
    except ConfigError as exc:
        st.error(f"Configuration problem: {exc}")
        st.stop()
        raise  # unreachable; st.stop raises
    configure_network(settings.network)  # this process's fetchers trust its CA, name its contact
    return settings
