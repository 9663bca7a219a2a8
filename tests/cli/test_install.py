"""The README's first command, as a newcomer runs it: a fresh virtual environment, the package
installed with no test extras, `widget serve` answering the health check, the snippet, the demo
blog post and the frame's own files. Then the same for a plain `pip install .` and for the
built wheel, which must carry embed.js, static/, the templates and the migrations inside it.

Each case installs into a copy of the repository's files, so nothing of the developer's own
environment (.venv, widget-data, test extras) can stand in for what is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import REPO
from tests.servers import free_port

pytestmark = pytest.mark.slow

REPO = REPO
INSTALL_TIMEOUT_S = 600


def readme_run_command() -> str:
    """The one shell line under "## Quick start" that installs and runs the server."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", quick_start, re.S)
    assert command, "the README's quick start has no ```sh block"
    lines = [line for line in command.group(1).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].endswith("widget serve"), lines[0]
    return lines[0]


def copy_of_the_repository(target: Path) -> Path:
    """The files a fresh clone has (tracked, plus new ones not ignored): no .venv, no data."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def clean_env(port: int, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIDGET_", "VIRTUAL_ENV"))}
    env.update(WIDGET_PUBLIC_URL=f"http://comments.localhost:{port}", WIDGET_DATA_DIR=str(data_dir))
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    return env


@contextlib.contextmanager
def running(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """Run `command` (which ends up serving) until /healthz answers; stop it afterwards."""
    port = int(env["WIDGET_PUBLIC_URL"].rsplit(":", 1)[1])
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + INSTALL_TIMEOUT_S
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not come up:\n{log.read_text()[-4000:]}")
                time.sleep(0.5)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise
    assert process.returncode in (0, -signal.SIGTERM), log.read_text()[-4000:]


def assert_serves_the_demo(base: str, port: int) -> None:
    """What a newcomer's browser fetches: the demo post, the snippet, the frame and its files."""
    demo = httpx.get(f"{base}/", headers={"Host": f"blog.localhost:{port}"})
    assert demo.status_code == 200
    assert f'src="http://comments.localhost:{port}/embed.js"' in demo.text
    embed = httpx.get(f"{base}/embed.js")
    assert embed.status_code == 200
    assert embed.content == (REPO / "embed.js").read_bytes()
    frame = httpx.get(
        f"{base}/embed/demo/thread", params={"page": "/", "url": f"http://blog.localhost:{port}/"}
    )
    assert frame.status_code == 200, frame.text
    assert "Leave a Reply" in frame.text
    files = re.findall(r'(?:href|src)="(/static/[^"]+)"', frame.text)
    assert len(files) >= 2, frame.text  # the stylesheet and the script at least
    for url in files:
        served = httpx.get(base + url)
        assert served.status_code == 200, url
        name = re.sub(r"\.[0-9a-f]{12}\.", ".", url.removeprefix("/static/"))
        assert served.content == (REPO / "static" / name).read_bytes(), url


def test_the_readmes_first_command_on_a_fresh_machine(tmp_path: Path) -> None:
    copy = copy_of_the_repository(tmp_path / "widget")
    port = free_port()
    env = clean_env(port, copy / "widget-data")
    with running(["bash", "-c", readme_run_command()], copy, env, tmp_path / "log") as base:
        assert_serves_the_demo(base, port)
    assert (copy / "widget-data" / "widget.db").is_file()


def fresh_venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    return folder / "bin"


@pytest.mark.parametrize("what", ["the source folder", "the built wheel"])
def test_a_plain_install_serves_with_its_packaged_files(tmp_path: Path, what: str) -> None:
    copy = copy_of_the_repository(tmp_path / "source")
    bin_dir = fresh_venv(tmp_path / "venv")
    pip = [str(bin_dir / "pip"), "--disable-pip-version-check", "--quiet"]
    target = str(copy)
    if what == "the built wheel":
        dist = tmp_path / "dist"
        subprocess.run(
            [*pip, "wheel", "--no-deps", "-w", str(dist), str(copy)],
            check=True, timeout=INSTALL_TIMEOUT_S,
        )  # fmt: skip
        (wheel,) = dist.glob("widget-*.whl")
        target = str(wheel)
    subprocess.run([*pip, "install", target], check=True, timeout=INSTALL_TIMEOUT_S)
    shutil.rmtree(copy)  # served from the installed package alone, not from the sources
    port = free_port()
    env = clean_env(port, tmp_path / "data")
    run = [str(bin_dir / "widget"), "serve"]
    with running(run, tmp_path, env, tmp_path / "log") as base:
        assert_serves_the_demo(base, port)
