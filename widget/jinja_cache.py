"""Templates compiled once per process, however many apps it makes.

A server makes one app, but the tests make one per test, and each new Jinja environment would
parse and compile every template it renders again (about 25 ms of CPU for the thread's page).
Jinja keys the bytecode by template name and source checksum, not by the environment's
options, so each kind of environment keeps a cache of its own.
"""

from __future__ import annotations

import jinja2
from jinja2.bccache import Bucket

__all__ = ["ProcessBytecodeCache"]


class ProcessBytecodeCache(jinja2.BytecodeCache):
    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()
