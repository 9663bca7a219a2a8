"""Fixtures of the porting tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.porting.files import make_isso_db


@pytest.fixture
def isso_db(tmp_path: Path) -> Path:
    return make_isso_db(tmp_path / "comments.db")
