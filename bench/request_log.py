"""What the request log costs: the hot routes (the thread fragment, the counts API) served with
no access log, with uvicorn's, and with widget's own request log (text and JSON lines), each
writing to a file, in turns, in one run.

    .venv/bin/python bench/request_log.py [--duration 5] [--connections 10] [--rounds 3]

Needs wrk. Two figures per configuration, as ratios to "no access log" in the same run: requests
a second, and the server's CPU time per request (user + system, from /proc), which a busy
neighbour on a shared machine disturbs much less. The configurations take turns, round after
round, so that such a neighbour's load falls on all of them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    COUNT_PAGES,
    THREAD_PARAMS,
    bench_settings,
    free_port,
    seed_thread,
    stop,
    wait_until_serving,
)

# One server process per configuration: the app as `widget serve` builds it, the request log
# middleware taken out where the configuration says so.
SERVER = """
import logging, sys, uvicorn
from widget.app import create_app
from widget.config import load_settings
from widget.logs import configure_logging
mode, port = sys.argv[1], int(sys.argv[2])
settings = load_settings(log_format="json" if mode == "widget-json" else "text",
                         log_level="warning" if mode == "widget-ids" else "info")
app = create_app(settings)
if not mode.startswith("widget"):
    app.user_middleware.clear()
if mode == "uvicorn":
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", access_log=True)
else:
    configure_logging(settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level=settings.log_level,
                access_log=False, log_config=None)
"""

MODES = {
    "none": "no access log",
    "uvicorn": "uvicorn's access log",
    "widget-ids": "widget's request ids, no lines",
    "widget-text": "widget's request log (text)",
    "widget-json": "widget's request log (JSON lines)",
}


def start(mode: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, mode, str(port)], env=env, cwd=ROOT,
            stdout=out, stderr=out,
        )  # fmt: skip
    return wait_until_serving(process, f"http://127.0.0.1:{port}/healthz", f"the {mode} server")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure(url: str, pid: int, duration: int, connections: int) -> tuple[float, float]:
    """(requests a second, server CPU microseconds a request) after a short warm-up."""
    command = ["wrk", "-t1", f"-c{connections}", "--timeout", "5s"]
    subprocess.run([*command, "-d2s", url], capture_output=True, check=True)
    before = cpu_seconds(pid)
    output = subprocess.run(
        [*command, f"-d{duration}s", url], capture_output=True, text=True, check=True
    ).stdout
    used = cpu_seconds(pid) - before
    assert "Non-2xx" not in output, output
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rps, used / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="widget-bench-log-") as tmp:
        settings = bench_settings(Path(tmp) / "data", free_port())
        asyncio.run(seed_thread(settings, "bench", "/bench/", 200, 0.3))
        for page in COUNT_PAGES:
            asyncio.run(seed_thread(settings, "bench", page, 3, 0.0))
        env = {**os.environ, "WIDGET_DATA_DIR": str(settings.data_dir),
               "WIDGET_DATABASE_URL": settings.database_url,
               "WIDGET_PUBLIC_URL": settings.public_url, "WIDGET_DEMO": "false",
               "WIDGET_LOG_LEVEL": "info"}  # fmt: skip
        routes = {
            "fragment": f"/embed/bench/thread/fragment?{THREAD_PARAMS}",
            "counts, 10 pages": "/api/v1/counts?site=bench&"
            + "&".join(f"page={p}" for p in COUNT_PAGES),
        }
        rps: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        lines: dict[str, int] = {}
        for _ in range(args.rounds):
            for mode in MODES:
                port = free_port()
                log = Path(tmp) / f"{mode}.log"
                process = start(mode, port, env, log)
                try:
                    for route, path in routes.items():
                        url = f"http://127.0.0.1:{port}{path}"
                        speed, cost = measure(url, process.pid, args.duration, args.connections)
                        rps.setdefault((mode, route), []).append(speed)
                        cpu.setdefault((mode, route), []).append(cost)
                finally:
                    stop(process)
                lines[mode] = sum(1 for _ in log.open("rb"))
    results: dict[str, dict[str, float]] = {}
    print(
        f"{'configuration':<36}{'route':<18}{'req/s':>8}{'ratio':>7}{'CPU us/req':>12}{'ratio':>7}"
    )
    for route in routes:
        base_rps = statistics.median(rps[("none", route)])
        base_cpu = statistics.median(cpu[("none", route)])
        for mode, name in MODES.items():
            speed = statistics.median(rps[(mode, route)])
            cost = statistics.median(cpu[(mode, route)])
            results[f"{name}, {route}"] = {
                "rps": round(speed), "rps_ratio": round(speed / base_rps, 3),
                "cpu_us_per_request": round(cost, 1), "cpu_ratio": round(cost / base_cpu, 3),
            }  # fmt: skip
            print(f"{name:<36}{route:<18}{speed:>8.0f}{speed / base_rps:>7.2f}"
                  f"{cost:>12.1f}{cost / base_cpu:>7.2f}")  # fmt: skip
    print("log lines written (last round): " + ", ".join(f"{m}: {n:,}" for m, n in lines.items()))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "request-log.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
