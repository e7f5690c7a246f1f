"""Which collector serves which platform, and which sources the configuration asks for.

Each platform package exposes two functions in its `plugin` module:
`source_specs(settings) -> list[SourceSpec]` and `build(context) -> Collector`. They are
imported lazily so a broken optional dependency of one platform never stops the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from collectors.base import Collector, CollectorContext, SourceSpec

if TYPE_CHECKING:
    from groundswell.config import Settings

PLATFORM_PLUGINS: dict[str, str] = {
    "mastodon": "collectors.mastodon.plugin",
    "bluesky": "collectors.bluesky.plugin",
    "blog": "collectors.blogs.plugin",
}


def _plugin(platform: str):  # type: ignore[no-untyped-def]
    try:
        module = importlib.import_module(PLATFORM_PLUGINS[platform])
    except ModuleNotFoundError as exc:
        if exc.name == PLATFORM_PLUGINS[platform]:
            return None  # platform not built yet
        raise
    return module


def source_specs(settings: Settings) -> list[SourceSpec]:
    specs: list[SourceSpec] = []
    for platform in PLATFORM_PLUGINS:
        plugin = _plugin(platform)
        if plugin is not None:
            specs.extend(plugin.source_specs(settings))
    return specs


def build_collectors(context: CollectorContext) -> dict[str, Collector]:
    out: dict[str, Collector] = {}
    for platform in PLATFORM_PLUGINS:
        plugin = _plugin(platform)
        if plugin is not None:
            out[platform] = plugin.build(context)
    return out
