"""Rule 1 and the direction of dependencies, checked on the source with `ast`."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"

# Pure protocol code is driven by bytes and timestamps only: no I/O, no clock, no threads.
IO_MODULES = {"twisted", "socket", "asyncio", "select", "selectors", "threading", "sqlite3",
              "time"}
# Layers above core (adapters and backends), which nothing below them may import.
ADAPTERS = {"gateway.transport", "gateway.http", "gateway.connectors", "gateway.storage"}
ABOVE_PROTOCOL = ADAPTERS | {"gateway.core", "gateway.tap", "gateway.cli", "gateway.config"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(GATEWAY.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "id", getattr(node.func, "attr", None))
              in ("__import__", "import_module")):
            found.append((node.lineno, node.args[0].value))
    return found


def within(module: str, packages: set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def sources(*packages: str) -> list[Path]:
    files = sorted(p for package in packages for p in (GATEWAY / package).rglob("*.py"))
    assert files, f"no sources found under {packages}"
    return files


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(GATEWAY.parent)) for p in paths]


PROTOCOL_SOURCES = sources("smpp", "text")
CORE_SOURCES = sources("core")


@pytest.mark.parametrize("path", PROTOCOL_SOURCES, ids=ids(PROTOCOL_SOURCES))
def test_protocol_code_imports_no_io_clock_or_threads(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path)
           if within(module, IO_MODULES)]
    assert not bad, f"{path.name} must stay free of I/O (rule 1): {bad}"


@pytest.mark.parametrize("path", PROTOCOL_SOURCES, ids=ids(PROTOCOL_SOURCES))
def test_protocol_code_imports_nothing_from_the_layers_above(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path)
           if within(module, ABOVE_PROTOCOL)]
    assert not bad, f"{path.name} must depend only downwards: {bad}"


@pytest.mark.parametrize("path", CORE_SOURCES, ids=ids(CORE_SOURCES))
def test_core_imports_no_transport_http_connector_or_storage(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path)
           if within(module, ADAPTERS)]
    assert not bad, f"{path.name}: core must not depend on adapters or backends: {bad}"


def test_the_checker_sees_every_kind_of_import(tmp_path, monkeypatch):
    package = tmp_path / "gateway" / "smpp"
    package.mkdir(parents=True)
    source = package / "probe.py"
    source.write_text(
        "import time\n"
        "import twisted.internet.reactor\n"
        "from socket import socket\n"
        "from ..transport import smpp_protocol\n"
        "from . import codec\n"
        "import importlib\n"
        "importlib.import_module('asyncio')\n"
        "def f():\n"
        "    import threading\n"
    )
    monkeypatch.setattr(f"{__name__}.GATEWAY", tmp_path / "gateway")
    modules = {module for _, module in imported_modules(source)}
    assert {"time", "twisted.internet.reactor", "socket", "gateway.transport",
            "gateway.smpp", "gateway.smpp.codec", "asyncio", "threading"} <= modules
    assert within("twisted.internet", IO_MODULES)
    assert not within("timeit", IO_MODULES)
    assert within("gateway.transport.smpp_protocol", ADAPTERS)
