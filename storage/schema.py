"""Every table of the store in one place: importing this module registers the core tables
(`storage/models.py`) and each area's (`storage/models_<area>.py`) on `SQLModel.metadata`.

The migrations' environment, the migration test and anything that needs the whole schema import
this module; the core tables never import their extensions (the extensions import the core
tables they index or refer to), so the table modules form no circle (docs/architecture.md).
Area tables: one import line each, sorted.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from storage import (
    models,  # noqa: F401
    models_alerts,  # noqa: F401
    models_audit,  # noqa: F401
    models_blogs,  # noqa: F401
    models_cascades,  # noqa: F401
    models_dashboard,  # noqa: F401
    models_deletions,  # noqa: F401
    models_export,  # noqa: F401
    models_people,  # noqa: F401
    models_rollups,  # noqa: F401
    models_shares,  # noqa: F401
    models_wall,  # noqa: F401
)

metadata = SQLModel.metadata
