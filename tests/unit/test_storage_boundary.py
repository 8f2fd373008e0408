"""The storage boundary: only storage/sql and bootstrap know SQLAlchemy, the engine and the SQL
adapters; everything else works through the ports, whose signatures the adapters match exactly
(mypy checks the types where bootstrap builds the Container; this checks names, kinds and
defaults, which mypy lets differ)."""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from encore_backend import bootstrap
from encore_backend.bootstrap import Container, build
from encore_backend.config import Settings

PACKAGE = Path(bootstrap.__file__).parent
ALLOWED = (PACKAGE / "storage" / "sql", PACKAGE / "bootstrap.py")
FORBIDDEN_PREFIX = "encore_backend.storage.sql"
DYNAMODB_ADAPTERS = "encore_backend/storage/dynamodb/"


def outside_the_boundary() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if not any(path == a or a in path.parents for a in ALLOWED):
            yield str(path.relative_to(PACKAGE.parent)), ast.parse(path.read_text())


def imported_modules(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_walk_sees_the_package_and_leaves_out_only_the_sql_adapters_and_bootstrap() -> None:
    seen = {name for name, _ in outside_the_boundary()}
    assert "encore_backend/observability/metrics.py" in seen
    assert "encore_backend/storage/ports/derived.py" in seen
    assert not any(n.startswith("encore_backend/storage/sql/") for n in seen)
    assert "encore_backend/bootstrap.py" not in seen


def test_no_module_outside_storage_sql_and_bootstrap_imports_sqlalchemy() -> None:
    offenders = [
        f"{name}: {module}"
        for name, tree in outside_the_boundary()
        for module in imported_modules(tree)
        if "sqlalchemy" in module.split(".")
    ]
    assert offenders == []


def test_no_module_outside_bootstrap_imports_the_sql_adapters() -> None:
    """The DynamoDB adapters are the exception: they are built over the SQL stores of the
    source of truth (feedback, venues) and name their types; they still import no SQLAlchemy."""
    offenders = [
        f"{name}: {module}"
        for name, tree in outside_the_boundary()
        if not name.startswith(DYNAMODB_ADAPTERS)
        for module in imported_modules(tree)
        if module == FORBIDDEN_PREFIX or module.startswith(FORBIDDEN_PREFIX + ".")
    ]
    assert offenders == []


def test_nothing_outside_the_boundary_reads_an_engine() -> None:
    offenders = [
        f"{name}:{node.lineno}"
        for name, tree in outside_the_boundary()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "engine"
    ]
    assert offenders == []


def port_fields() -> list[tuple[str, type]]:
    """(container field, its port) for every store (every field typed by a Protocol but the
    clock)."""
    hints = typing.get_type_hints(Container)
    return [
        (name, hint)
        for name, hint in hints.items()
        if name != "clock" and isinstance(hint, type) and getattr(hint, "_is_protocol", False)
    ]


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Container:
    """The SQL wiring (nothing connects until a store is used)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('boundary') / 'unused.db'}"
    settings = Settings(_env_file=None, encore_database_url=url)  # type: ignore[call-arg]
    return build(settings)


def shape(function: Any) -> list[tuple[str, Any, Any]]:
    """Each parameter's name, kind and default (an Ellipsis default means "the adapter's")."""
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()
    ]


def test_every_store_of_the_container_is_typed_by_a_port() -> None:
    ports = dict(port_fields())
    assert len(ports) == 21
    assert {"engine", "settings", "clock", "job_store", "extras"}.isdisjoint(ports)


@pytest.mark.parametrize(("field", "port"), port_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_each_sql_adapter_has_its_ports_methods_with_the_same_parameters(
    container: Container, field: str, port: type
) -> None:
    adapter = type(getattr(container, field))
    methods = [n for n, v in vars(port).items() if inspect.isfunction(v) and n[0] != "_"]
    assert methods, f"{port.__name__} declares no method"
    for name in methods:
        assert hasattr(adapter, name), f"{adapter.__name__} lacks {name}"
        assert shape(getattr(adapter, name)) == shape(getattr(port, name)), name
        declared = inspect.signature(getattr(port, name)).parameters
        actual = inspect.signature(getattr(adapter, name)).parameters
        for param, value in declared.items():
            if value.default not in (inspect.Parameter.empty, Ellipsis):
                assert actual[param].default == value.default, f"{name}({param}=…)"
