"""`widget export -o FILE` stopped early (refused, killed, out of disk): FILE is left as it
was, never cut short where it would pass for a whole export; the command says what to do."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import pytest

from tests.helpers import Widget
from tests.mounts import small_disk
from tests.porting.files import many_comments_file
from tests.servers import widget_cli, widget_cli_started

OLD = b'{"format":"widget-export","version":1}\n{"an export made":"yesterday"}\n'
COMMENTS = 3000  # some 6 MB exported: long enough to be killed mid-way


def many_comments(data_dir: Path, tmp_path: Path) -> None:
    """The site "blog" with COMMENTS comments of a kilobyte each, imported."""
    source = many_comments_file(tmp_path / "source.jsonl", COMMENTS)
    widget_cli(data_dir, "site", "add", "blog", "--origin", "https://blog.example")
    widget_cli(data_dir, "import", str(source), "--site", "blog")


def test_a_refused_export_leaves_the_file_as_it_was(tmp_path: Path, widget: Widget) -> None:
    assert widget("site", "add", "blog", "--origin", "https://blog.example").code == 0
    target = tmp_path / "blog.jsonl"
    target.write_bytes(OLD)
    refused = widget("export", "--site", "nosuch", "-o", str(target))
    assert refused.code == 1
    assert "There is no site called 'nosuch'" in refused.err
    assert target.read_bytes() == OLD  # was emptied before the site was even looked up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blog.jsonl", "data"]


def test_a_file_that_cannot_be_written_is_named_with_what_to_do(
    tmp_path: Path, widget: Widget
) -> None:
    assert widget("site", "add", "blog", "--origin", "https://blog.example").code == 0
    missing = widget("export", "-o", str(tmp_path / "nowhere" / "blog.jsonl"))
    assert (missing.code, missing.err) == (
        1,
        f"widget: The folder {tmp_path / 'nowhere'} does not exist: create it first."
        " Nothing was written.\n",
    )  # fmt: skip  (a FileNotFoundError's traceback before)
    folder = widget("export", "-o", str(tmp_path))
    assert folder.code == 1
    assert f"{tmp_path} is a folder: name the file to write" in folder.err


@pytest.mark.slow  # a disk of its own (a mount)
def test_an_export_to_a_full_disk_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    many_comments(data_dir, tmp_path)
    disk = tmp_path / "disk"
    with small_disk(disk, size_kb=1024):
        target = disk / "blog.jsonl"
        with widget_cli_started(data_dir, "export", "-o", str(target)) as command:
            _, errors = command.communicate(timeout=60)
        assert command.returncode == 1
        assert f"The disk holding {disk} is full" in errors
        assert "Traceback" not in errors
        assert list(disk.iterdir()) == []  # no file cut at the disk's size, named as a whole


@pytest.mark.slow  # ten exports killed, each a process
def test_an_export_killed_at_any_point_leaves_the_old_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    many_comments(data_dir, tmp_path)
    whole = tmp_path / "whole.jsonl"
    widget_cli(data_dir, "export", "-o", str(whole))
    whole_size = whole.stat().st_size
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "blog.jsonl"
    target.write_bytes(OLD)
    cut_mid_way = 0
    for point in range(1, 11):  # killed once a tenth, two tenths... of the export is written
        with widget_cli_started(data_dir, "export", "-o", str(target)) as command:
            deadline = time.monotonic() + 30
            while written(folder) < whole_size * point // 11 and command.poll() is None:
                assert time.monotonic() < deadline, "the export never got that far"
            command.send_signal(signal.SIGKILL)
            command.wait(timeout=10)
        cut_mid_way += command.returncode == -signal.SIGKILL
        assert target.read_bytes() in (OLD, whole.read_bytes())
        leftovers = [p.name for p in folder.iterdir() if p != target]
        assert all(".partial-" in name for name in leftovers), leftovers
    assert cut_mid_way >= 5  # else the test says little: most runs must die mid-way
    widget_cli(data_dir, "export", "-o", str(target))
    assert target.read_bytes() == whole.read_bytes()


def written(folder: Path) -> int:
    """The most bytes any file in `folder` holds."""
    sizes = [0]
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):  # a partial file, renamed meanwhile
            sizes.append(path.stat().st_size)
    return max(sizes)


@pytest.mark.slow  # an export in a process of its own, piped
def test_an_export_whose_reader_stops_says_it_is_incomplete(tmp_path: Path) -> None:
    """`widget export | head`: a line saying the export was cut short, no traceback."""
    data_dir = tmp_path / "data"
    many_comments(data_dir, tmp_path)
    with widget_cli_started(data_dir, "export") as command:
        assert command.stdout is not None and command.stderr is not None
        assert command.stdout.read(100).startswith('{"format":"widget-export"')
        command.stdout.close()  # as head does after its lines
        errors = command.stderr.read()
        assert command.wait(timeout=60) == 1
    assert errors == (
        "widget: The program reading the export stopped before its end (broken pipe): what it"
        " got is not the whole export.\n"
    )  # a BrokenPipeError's traceback before
