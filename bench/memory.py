"""Memory and start-up: what `widget serve` holds idle and at its peak under a bounded load, beside
a bare Starlette app under uvicorn measured the same way in the same run, and what `widget --help`
costs beside a bare Python.

    .venv/bin/python bench/memory.py [--duration 5] [--connections 10]

The load (wrk on 127.0.0.1, one kind after the other, --duration seconds each): a 200-comment
thread's fragment, the counts of ten pages, and posting (bench/post.lua: the frame document, then
comment after comment). Memory is the resident set (VmRSS) and its peak (VmHWM) from /proc. The
render workers are processes of their own (forked when the first comment is rendered): they are
reported apart. Targets (issue 13): idle at most 45 MB, under load at most 60 MB, `widget --help`
at most 0.25 s. Figures go to stdout and bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    COUNT_PAGES,
    THREAD_PARAMS,
    bench_settings,
    free_port,
    memory_mb,
    print_memory,
    seed_thread,
    stop,
    wait_until_serving,
    wrk,
)

WIDGET = Path(sys.executable).parent / "widget"  # the command pip installed


def proportional_mb(pid: int) -> float:
    """A process's share of the memory it holds with others (PSS): forked workers share the
    pages of their fork server, which RSS counts in each of them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process started under `pid` (render workers and their fork server)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def command_line(pid: int) -> str:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return raw.strip().partition(" ")[2][:60]  # without the interpreter's path


def load(base: str, duration: int, connections: int, origin: str) -> dict[str, float]:
    """wrk against the fragment, the counts and posting in turn: requests per second of each."""
    counts = "site=bench&" + "&".join(f"page={page}" for page in COUNT_PAGES)
    return {
        "fragment": wrk(f"{base}/embed/bench/thread/fragment?{THREAD_PARAMS}", duration,
                        connections)["rps"],
        "counts": wrk(f"{base}/api/v1/counts?{counts}", duration, connections)["rps"],
        "posting": wrk(base, duration, connections, script=ROOT / "bench" / "post.lua",
                       env={**os.environ, "WIDGET_BENCH_ORIGIN": origin})["rps"],
    }  # fmt: skip


def measure_widget(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    port = free_port()
    settings = bench_settings(data_dir, port)
    asyncio.run(seed_thread(settings, "bench", "/bench/", 200, 0.3))
    for page in COUNT_PAGES:
        asyncio.run(seed_thread(settings, "bench", page, 3, 0.0))
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("WIDGET_")},
        "WIDGET_DATA_DIR": str(data_dir),
        "WIDGET_PUBLIC_URL": settings.public_url,
        "WIDGET_POST_RATE_PER_MINUTE": str(10**9),
    }
    command = [str(WIDGET), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=data_dir)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(process, f"{base}/healthz", "widget serve")
    try:
        time.sleep(args.settle)
        idle = memory_mb(process.pid)
        rps = load(base, args.duration, args.connections, settings.public_url)
        loaded = memory_mb(process.pid)
        workers = {
            f"{child} {command_line(child)}": {**memory_mb(child), "pss_mb": proportional_mb(child)}
            for child in descendants(process.pid)
        }
    finally:
        stop(process)
    return {"idle": idle, "under_load": loaded, "requests_per_s": rps, "workers": workers}


def measure_baseline(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(process, f"{base}/", "bare Starlette")
    try:
        time.sleep(args.settle)
        idle = memory_mb(process.pid)
        # As many requests as widget's three kinds together, all to its one route.
        rps = wrk(f"{base}/", args.duration * 3, args.connections)["rps"]
        loaded = memory_mb(process.pid)
    finally:
        stop(process)
    return {"idle": idle, "under_load": loaded, "requests_per_s": {"hello": rps}}


def start_up_cost(command: list[str], runs: int) -> dict[str, float]:
    """Mean wall-clock and CPU seconds of running `command` to its end."""
    walls = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(sum(walls) / runs, 3), "cpu_s": round(cpu / runs, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of each kind of load")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before measuring")
    parser.add_argument("--runs", type=int, default=10, help="runs of `widget --help`")
    args = parser.parse_args()
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="widget-memory-") as tmp:
        results["widget serve"] = measure_widget(args, Path(tmp) / "data")
    results["bare Starlette"] = measure_baseline(args)
    results["widget --help"] = start_up_cost([str(WIDGET), "--help"], args.runs)
    results["python -c pass"] = start_up_cost([sys.executable, "-c", "pass"], args.runs)

    widget, bare = results["widget serve"], results["bare Starlette"]
    print_memory({
        f"{name}, {state.replace('_', ' ')}": figures[state]
        for name, figures in (("widget", widget), ("bare Starlette", bare))
        for state in ("idle", "under_load")
    })  # fmt: skip
    print("requests/s under load: " + ", ".join(
        f"{kind} {rps:,.0f}" for kind, rps in {**widget["requests_per_s"],
                                              **bare["requests_per_s"]}.items()))  # fmt: skip
    for name, figures in widget["workers"].items() or {"(none started)": {}}.items():
        shown = ", ".join(f"{key} {value}" for key, value in figures.items())
        print(f"process under widget serve {name}: {shown}")
    helped, bare_python = results["widget --help"], results["python -c pass"]
    print(f"widget --help: {helped['wall_s']:.3f} s wall, {helped['cpu_s']:.3f} s CPU"
          f" (python -c pass: {bare_python['wall_s']:.3f} s wall, {bare_python['cpu_s']:.3f} s"
          " CPU); target 0.25 s")  # fmt: skip
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "memory.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
