"""The layers of docs/architecture.md ("Layers"), checked from the code itself: storage knows
no rules, the domain knows no HTTP, and views change nothing but through the domain."""

from __future__ import annotations

import ast
import dataclasses
import functools
import gc
import inspect
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.helpers import REPO
from widget.storage import Storage

PACKAGE = REPO / "widget"
# What reads: everything else a Storage does changes state.
READ_PREFIXES = ("get_", "list_", "count_", "check_", "author_", "thread_", "outbox_")
READS = {"open", "close", "export", "dump", "on_event", "gauges", "cache_stamp"}
# The only modules outside widget/views that may know of HTTP: the factory, which mounts the
# views, and the sign-in, whose OAuth client (authlib's Starlette integration) keeps its
# flow state in the request's session.
HTTP_ALLOWED = {"app.py", "auth/signin.py"}


@dataclasses.dataclass(frozen=True)
class _Module:
    """What the checks read of a module: what it imports, and the line and method of each
    call it makes on something named `storage`."""

    imports: tuple[str, ...]
    storage_calls: tuple[tuple[int, str], ...]


@functools.cache  # several checks read the same modules: each is parsed once
def _read(path: Path) -> _Module:
    # A syntax tree is some ten thousand objects without a cycle among them: the garbage
    # collector, set off again and again while they are made, finds nothing (parsing the
    # repository took 1.1 s of CPU with it, 0.4 s without). Only what the checks read is
    # kept: the trees themselves, kept, would be in every later collection's way.
    gc.disable()
    try:
        tree = ast.parse(path.read_text(), str(path))
    finally:
        gc.enable()
    return _Module(tuple(_imported(tree)), tuple(_storage_calls(tree)))


def _modules(under: Path) -> Iterator[tuple[str, _Module]]:
    for path in sorted(under.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), _read(path)


def _imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _storage_writes() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(Storage, callable)
        if not name.startswith("_") and not name.startswith(READ_PREFIXES) and name not in READS
    }


def test_storage_imports_no_domain_and_no_views() -> None:
    allowed = ("widget.storage", "widget.records", "widget.errors", "widget.config")
    found = [
        (name, module)
        for name, read in _modules(PACKAGE / "storage")
        for module in read.imports
        if module.startswith("widget") and not module.startswith(allowed)
    ]
    assert found == []


def test_only_views_know_http() -> None:
    found = [
        (name, module)
        for name, read in _modules(PACKAGE)
        if not name.startswith("views/") and name not in HTTP_ALLOWED
        for module in read.imports
        if module.split(".")[0] == "starlette" or module.startswith("widget.views")
    ]
    assert found == []


def _storage_calls(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Calls such as `context.storage.set_status(…)` or `storage.get_site(…)`."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        receiver_name = (
            receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
        )
        if receiver_name == "storage":
            yield node.lineno, node.func.attr


def _writes_among(calls: Iterable[tuple[int, str]], writes: set[str]) -> list[tuple[int, str]]:
    return [(line, method) for line, method in calls if method in writes]


def test_views_change_state_only_through_the_domain() -> None:
    writes = _storage_writes()
    assert {"add_comment", "set_status", "erase_author", "update_site"} <= writes
    assert not writes & {"get_comment", "list_queue", "author_comments"}
    sample = ast.parse(
        "async def v(c):\n    await c.context.storage.set_status([1], 'spam', [])\n"
        "    await c.context.storage.get_site('blog')"
    )
    assert _writes_among(_storage_calls(sample), writes) == [(2, "set_status")]  # it sees
    found = [
        (name, *call)
        for name, module in _modules(PACKAGE / "views")
        for call in _writes_among(module.storage_calls, writes)
    ]
    assert found == []


def test_no_test_module_imports_another() -> None:
    """What tests share lives in helper modules (tests/helpers.py, admins.py, …), not in a test."""
    found = [
        (path.relative_to(REPO).as_posix(), module)
        for path in sorted((REPO / "tests").rglob("*.py"))
        if "node_modules" not in path.parts
        for module in _read(path).imports
        if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert found == []
