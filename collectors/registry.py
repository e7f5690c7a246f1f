"""Which collector serves which platform, and which sources the configuration asks for.

Each platform package exposes two functions in its `plugin` module:
`source_specs(settings) -> list[SourceSpec]` and `build(context) -> Collector`. They are
imported lazily so a broken optional dependency of one platform never stops the others.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from collectors.base import Collector, CollectorContext
from domain.records import SourceSpec

if TYPE_CHECKING:
    from domain.settings.config import Settings

PLATFORM_PLUGINS: dict[str, str] = {
    "mastodon": "collectors.mastodon.plugin",
    "bluesky": "collectors.bluesky.plugin",
    "blog": "collectors.blogs.plugin",
}


# Extra collectors outside this package: `GROUNDSWELL_PLUGINS="name=module,name2=module2"`.
# Each module has the same two functions. Used for site-specific collectors and by the tests
# that kill a real `groundswell collect` process mid-batch (tests/plugins/).
ENV_PLUGINS = "GROUNDSWELL_PLUGINS"


class PluginError(ValueError):
    """GROUNDSWELL_PLUGINS names a module that cannot be imported."""


def plugins() -> dict[str, str]:
    """Platform -> plugin module: the built-in ones plus those named in the environment."""
    found = dict(PLATFORM_PLUGINS)
    for item in os.environ.get(ENV_PLUGINS, "").split(","):
        if not item.strip():
            continue
        name, sep, module = item.partition("=")
        if not sep or not name.strip() or not module.strip():
            raise PluginError(
                f"${ENV_PLUGINS}: {item.strip()!r} is not platform=module "
                "(e.g. GROUNDSWELL_PLUGINS=intranet=mycompany.groundswell_intranet)"
            )
        found[name.strip()] = module.strip()
    return found


def _plugin(platform: str, module_name: str):  # type: ignore[no-untyped-def]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if platform in PLATFORM_PLUGINS and exc.name == module_name:
            return None  # built-in platform not built yet
        if platform not in PLATFORM_PLUGINS:
            raise PluginError(
                f"${ENV_PLUGINS}: cannot import {module_name!r} for {platform!r}: {exc}"
            ) from None
        raise
    return module


def source_specs(settings: Settings) -> list[SourceSpec]:
    specs: list[SourceSpec] = []
    for platform, module_name in plugins().items():
        plugin = _plugin(platform, module_name)
        if plugin is not None:
            specs.extend(plugin.source_specs(settings))
    return specs


def build_collectors(context: CollectorContext) -> dict[str, Collector]:
    out: dict[str, Collector] = {}
    for platform, module_name in plugins().items():
        plugin = _plugin(platform, module_name)
        if plugin is not None:
            out[platform] = plugin.build(context)
    return out
