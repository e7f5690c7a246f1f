"""The architecture holds: imports travel one way, application > dashboard > parts > adapters >
domain, and no sibling modules import each other in a circle (docs/architecture.md; the
contracts are `[tool.importlinter]` in pyproject.toml, checked by import-linter).

The contract is also run against a throwaway package tree shaped like ours, to show it can
fail: an upward import and a circle each break it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`lint-imports` from this environment (installed with the dev extras), no cache."""
    script = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(script), "--no-cache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _contracts() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]


def _layer_modules(config: dict[str, Any]) -> set[str]:
    modules: set[str] = set(config["root_packages"])
    for contract in config["contracts"]:
        for layer in contract.get("layers", []):
            modules.update(m.strip() for m in layer.replace(":", "|").split("|"))
    return modules


def _write_ini(config: dict[str, Any], path: Path) -> None:
    """The project's contracts, unchanged, in import-linter's INI form."""

    def value(v: Any) -> str:
        if isinstance(v, list):
            return "".join(f"\n    {item}" for item in v)
        return str(v).lower() if isinstance(v, bool) else str(v)

    lines = ["[importlinter]"]
    lines += [f"{k} = {value(v)}" for k, v in config.items() if k != "contracts"]
    for i, contract in enumerate(config["contracts"]):
        lines.append(f"\n[importlinter:contract:{i}]")
        lines += [f"{k} = {value(v)}" for k, v in contract.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toy_tree(tmp_path: Path, extra: dict[str, str]) -> Path:
    """Empty modules for every root package and layer of our contracts, plus `extra`
    (dotted module name -> source), and our contracts as `.importlinter`."""
    config = _contracts()
    for name in sorted(_layer_modules(config) | set(extra)):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            pkg = tmp_path.joinpath(*parts[:depth])
            pkg.mkdir(exist_ok=True)
            (pkg / "__init__.py").touch()
        leaf = tmp_path.joinpath(*parts)
        leaf.mkdir(exist_ok=True)
        (leaf / "__init__.py").write_text(extra.get(name, ""), encoding="utf-8")
    _write_ini(config, tmp_path / ".importlinter")
    return tmp_path


def test_the_project_keeps_its_layer_and_no_circle_contracts():
    res = _lint_imports(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_the_contracts_pass_on_a_tree_that_follows_them(tmp_path):
    tree = _toy_tree(tmp_path, {"storage.write": "import domain.rules\n", "domain.rules": ""})
    res = _lint_imports(tree, "--config", ".importlinter")
    assert res.returncode == 0, res.stdout + res.stderr


def test_an_upward_import_breaks_the_layer_contract(tmp_path):
    # The domain reaching up into the store: the kind of import issue 21 removed.
    tree = _toy_tree(tmp_path, {"domain.rules": "import storage.write\n", "storage.write": ""})
    res = _lint_imports(tree, "--config", ".importlinter")
    assert res.returncode != 0
    assert "domain is not allowed to import storage" in res.stdout, res.stdout


def test_a_circle_between_siblings_breaks_the_contract(tmp_path):
    # Two storage modules importing each other (as models.py and models_*.py did).
    tree = _toy_tree(
        tmp_path,
        {
            "storage.models": "import storage.models_extra\n",
            "storage.models_extra": "import storage.models\n",
        },
    )
    res = _lint_imports(tree, "--config", ".importlinter")
    assert res.returncode != 0
    assert "No cycles are allowed in storage" in res.stdout, res.stdout
