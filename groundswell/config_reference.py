"""Print the reference of every configuration key, from the settings models themselves.

    python -m groundswell.config_reference > /tmp/keys.md

docs/configuration.md embeds this output between its "reference" markers, so the reference
cannot drift from what the validator accepts (regenerate it when a settings model changes).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from domain.settings.config import Settings


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args) + " (optional)"
    if origin is list:
        (arg,) = typing.get_args(annotation) or (Any,)
        return f"list of {_type_name(arg)}"
    if origin is typing.Literal:
        return " or ".join(f'"{a}"' for a in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return getattr(annotation, "__name__", str(annotation))


def _model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model(arg)
        if found is not None:
            return found
    return None


def _limits(field: Any) -> str:
    out = []
    for meta in field.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None:
                out.append(f"{sign} {value}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            out.append(f"matches `{pattern}`")
    return ", ".join(out)


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return "" if field.default is None else f"`{field.default!r}`"
    if field.default_factory is not None:
        value = field.default_factory()
        return "" if isinstance(value, BaseModel) else f"`{value!r}`"
    return "**required**"


def reference(
    model: type[BaseModel] = Settings, prefix: str = "", is_list: bool = False
) -> list[str]:
    lines: list[str] = []
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel], bool]] = []
    for name, field in model.model_fields.items():
        sub = _model(field.annotation)
        key = f"{prefix}{name}"
        if sub is not None:
            nested.append((key, sub, typing.get_origin(field.annotation) is list))
            continue
        doc = (field.description or "").replace("|", "\\|")
        limits = _limits(field)
        rows.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | "
            f"{'; '.join(x for x in (doc, limits) if x)} |"
        )
    if rows:
        title = prefix.rstrip(".")
        title = f"[[{title}]]" if is_list else f"[{title}]"
        lines += [f"### `{title}`", "", "| key | type | default | notes |", "|---|---|---|---|"]
        lines += [*rows, ""]
    for key, sub, many in nested:
        lines += reference(sub, f"{key}.", many)
    return lines


def main() -> None:
    print("\n".join(reference()))


if __name__ == "__main__":
    main()
