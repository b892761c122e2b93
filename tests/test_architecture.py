"""DESIGN.md §2: the import direction between the four packages, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crypto", "firmware_tools", "issuer", "terminal")
# package -> packages it must never import
FORBIDDEN = {
    "crypto": {"firmware_tools", "issuer", "terminal"},
    "firmware_tools": {"issuer", "terminal"},
    "issuer": {"terminal"},
    "terminal": {"issuer"},
}
# crypto is pure: no network, device, database or web framework.
CRYPTO_FORBIDDEN_LIBS = {"socket", "requests", "httpx", "urllib", "sqlalchemy", "fastapi", "smartcard", "serial",
                         "uvicorn", "sqlite3"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_import_direction(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imports_of(path) & FORBIDDEN[package]
        if package == "crypto":
            bad |= imports_of(path) & CRYPTO_FORBIDDEN_LIBS
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_every_package_has_modules():
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file()
