"""Create or upgrade the store with Alembic (`groundswell init`).

The Alembic configuration is built in code so the installed package needs no alembic.ini
next to the user's working directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def head_revisions(engine: Engine) -> set[str]:
    """Every head of the migration graph. Areas (blogs, wall, exports...) may each add a
    branch off the schema they need; `init` upgrades to all heads."""
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the store to `revision`; a no-op on an up-to-date store."""
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions(engine)
