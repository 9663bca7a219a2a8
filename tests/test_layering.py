"""The layers of docs/architecture.md ("Layers"), checked from the code itself: storage knows
no rules, the domain knows no HTTP, and views change nothing but through the domain."""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Iterator
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


@functools.cache  # several checks read the same modules: each is parsed once
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _modules(under: Path) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(under.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), _tree(path)


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
        for name, tree in _modules(PACKAGE / "storage")
        for module in _imported(tree)
        if module.startswith("widget") and not module.startswith(allowed)
    ]
    assert found == []


def test_only_views_know_http() -> None:
    found = [
        (name, module)
        for name, tree in _modules(PACKAGE)
        if not name.startswith("views/") and name not in HTTP_ALLOWED
        for module in _imported(tree)
        if module.split(".")[0] == "starlette" or module.startswith("widget.views")
    ]
    assert found == []


def _storage_write_calls(tree: ast.Module, writes: set[str]) -> Iterator[tuple[int, str]]:
    """Calls such as `context.storage.set_status(…)` or `storage.add_comment(…)`."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        receiver_name = (
            receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
        )
        if receiver_name == "storage" and node.func.attr in writes:
            yield node.lineno, node.func.attr


def test_views_change_state_only_through_the_domain() -> None:
    writes = _storage_writes()
    assert {"add_comment", "set_status", "erase_author", "update_site"} <= writes
    assert not writes & {"get_comment", "list_queue", "author_comments"}
    sample = ast.parse("async def v(c):\n    await c.context.storage.set_status([1], 'spam', [])")
    assert list(_storage_write_calls(sample, writes)) == [(2, "set_status")]  # the check sees
    found = [
        (name, *call)
        for name, tree in _modules(PACKAGE / "views")
        for call in _storage_write_calls(tree, writes)
    ]
    assert found == []


def test_no_test_module_imports_another() -> None:
    """What tests share lives in helper modules (tests/helpers.py, admins.py, …), not in a test."""
    found = [
        (path.relative_to(REPO).as_posix(), module)
        for path in sorted((REPO / "tests").rglob("*.py"))
        if "node_modules" not in path.parts
        for module in _imported(_tree(path))
        if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert found == []
