"""The layering rules of docs/architecture.md, checked on the source (the import graph as written).

Each rule is what keeps a seam from growing back: the counter engine stays
testable without Qt, the shared layer never depends on the counter, the
office operations stay callable from the console and the online API without
importing a CLI, and no module hides a cycle or reaches into another's
private names.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import kiosk
import sync
from sync.errors import CinePassError

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500


def sources() -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every module in kiosk/ and sync/, migrations aside."""
    for top in ("kiosk", "sync"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if "migrations" in rel.parts:
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            yield ".".join(parts), path


def imports(module: str, path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every import in a file, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base, [a.name for a in node.names]


def offenders(where: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for module, path in sources():
        if not module.startswith(where):
            continue
        for line, target, _ in imports(module, path):
            if any(target == f or target.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


def test_the_shared_layer_never_imports_the_counter() -> None:
    assert offenders(("sync",), ("kiosk",)) == []


def test_the_counter_engine_has_no_qt() -> None:
    where = ("kiosk.engine", "kiosk.ops", "kiosk.syncer")
    assert offenders(where, ("PySide6", "kiosk.ui", "kiosk.commands", "kiosk.cli")) == []


def test_the_office_layer_imports_no_front_end() -> None:
    front = ("sync.admin", "sync.admin_common", "sync.admin_issue", "sync.admin_server")
    forbidden = (*front, "sync.server.routers", "sync.server.app", "argparse", "fastapi")
    assert offenders(("sync.office",), (*forbidden, "sync.console")) == []
    assert offenders(("sync.server.routers",), (*front, "sync.console")) == []
    assert offenders(("sync.server",), front) == []
    assert offenders(("sync.console",), (*front, "sync.server.routers", "sync.member")) == []
    assert offenders(("sync.member",), (*front, "sync.server.routers", "sync.console")) == []


def test_what_the_front_ends_share_imports_neither() -> None:
    # sync.webcommon serves the console and the member page alike, so it leans on neither
    assert offenders(("sync.webcommon",), ("sync", "kiosk")) == []


def test_the_window_does_not_import_the_demo() -> None:
    assert offenders(("kiosk.ui",), ("kiosk.demo",)) == []


def test_no_private_name_crosses_a_module() -> None:
    found = []
    for module, path in sources():
        for line, target, names in imports(module, path):
            if target.startswith(("kiosk", "sync")) and target != module:
                found += [
                    f"{path.relative_to(ROOT)}:{line} imports {target}.{n}"
                    for n in names
                    if n.startswith("_") and not n.startswith("__")
                ]
    assert found == []


def test_no_import_hides_behind_importlib() -> None:
    # kiosk.selftest imports each bundled module by name on purpose: it checks
    # that a frozen executable carries them, which is not a cycle.
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for module, path in sources()
        if module != "kiosk.selftest"
        for line, target, _ in imports(module, path)
        if target == "importlib"
    ]
    assert found == []


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for _, path in sources()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def all_modules() -> Iterator[str]:
    for pkg in (kiosk, sync):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if ".migrations" not in info.name and not info.name.endswith("__main__"):
                yield info.name


@pytest.mark.parametrize("name", sorted(all_modules()))
def test_every_exception_derives_from_the_one_root(name: str) -> None:
    module = importlib.import_module(name)
    strays = [
        cls.__qualname__
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == name
        and issubclass(cls, BaseException)
        and not issubclass(cls, CinePassError)
    ]
    assert strays == []
