"""Alembic migrations and the SQLModel tables describe the same schema, on both dialects,
and `init` is idempotent (upgrading an up-to-date store changes nothing)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import storage.schema  # noqa: F401
from storage.migrate import head_revisions, is_current, upgrade


def _diff(engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, SQLModel.metadata)


def test_migrations_create_exactly_the_models_schema(store):
    assert _diff(store) == []


def test_the_store_is_at_the_single_head_and_upgrading_again_is_a_no_op(store):
    assert head_revisions(store)
    assert is_current(store)
    upgrade(store)
    assert is_current(store)
