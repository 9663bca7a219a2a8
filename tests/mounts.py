"""Read-only folders and full disks, made real with mounts (which need root, as in CI: a
file's permissions do not stop root, a read-only mount does)."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["fill", "read_only", "small_disk"]


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path`, a folder or a file, read-only for everyone for a while: a read-only bind mount
    of itself, as a read-only volume would be."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield
    finally:
        _unmount(path)


@contextlib.contextmanager
def small_disk(path: Path, size_kb: int) -> Iterator[None]:
    """A new folder at `path` on a disk of its own, `size_kb` large, to fill up."""
    path.mkdir(parents=True)
    _mount("-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(path))
    try:
        yield
    finally:
        _unmount(path)


def fill(path: Path, room_left_bytes: int = 0) -> None:
    """Write `path` until its disk has no room left, then give back `room_left_bytes`."""
    with path.open("wb", buffering=0) as file:
        for block in (65536, 512):  # then the last few blocks
            try:
                while True:
                    file.write(b"\0" * block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        if room_left_bytes:
            file.truncate(max(0, file.tell() - room_left_bytes))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _unmount(path: Path) -> None:
    # Lazily: a server killed a moment ago may still be letting go of its files.
    subprocess.run(["umount", "--lazy", str(path)], check=True, capture_output=True)
