"""The package's layers: imports point down, never up, and siblings keep to themselves.

    cli -> the run (top-level modules) -> gate -> deid | delivery -> dicomio
        -> records, errors, databases

The gate sits above deid because it is source-aware: it reads the profile and the identifier
patterns to tell a kept value from a leak. deid and delivery know nothing of each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "bsti_submit"

BOTTOM = {
    "bsti_submit",
    "bsti_submit.errors",
    "bsti_submit.databases",
    "bsti_submit.records",
    "bsti_submit.platforms",
}
TOP = {"bsti_submit.cli", "bsti_submit.__main__"}
SUBPACKAGE_LAYERS = {"dicomio": 1, "deid": 2, "delivery": 2, "gate": 3}
RUN_LAYER, CLI_LAYER = 4, 5


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[int, str]:
    """The layer of a module, and its group (siblings of one layer are told apart by it)."""
    if module in BOTTOM:
        return 0, "core"
    if module in TOP:
        return CLI_LAYER, "cli"
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in SUBPACKAGE_LAYERS):
        return SUBPACKAGE_LAYERS[parts[1]], parts[1]
    return RUN_LAYER, "run"


def imported(path: Path) -> set[str]:
    """Every bsti_submit module a file imports, at the top or inside a function."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:  # `from . import x` may name a module
                candidate = f"{target}.{alias.name}"
                known = _exists(candidate)
                found.add(candidate if known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "bsti_submit"}


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative).is_dir()


def back_edges() -> list[str]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        level, group = layer(importer)
        for target in sorted(imported(path)):
            target_level, target_group = layer(target)
            upward = target_level > level
            sideways = target_level == level and group != target_group and level != RUN_LAYER
            if upward or sideways:
                edges.append(f"{importer} imports {target}")
    return edges


def test_imports_point_down_the_layers() -> None:
    assert back_edges() == []


def test_the_records_depend_on_nothing_in_the_package() -> None:
    assert imported(PACKAGE / "records.py") == set()


@pytest.mark.parametrize(
    ("importer", "target"),
    [
        ("dicomio/part10.py", "from ..gate.verify import Finding"),
        ("deid/engine.py", "from ..delivery.state import DeliveryState"),
        ("gate/verify.py", "from .. import cli"),
    ],
)
def test_a_back_edge_is_caught(
    importer: str, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check sees an upward or sideways import planted in a copy of the package."""
    import shutil

    copy = tmp_path / "bsti_submit"
    shutil.copytree(PACKAGE, copy)
    planted = copy / importer
    planted.write_text(planted.read_text(encoding="utf-8") + f"\n{target}\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", copy)
    assert back_edges()
