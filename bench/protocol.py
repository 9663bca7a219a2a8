"""What widget's HTTP protocol (widget/serving.py: head limits, timeouts, connection count)
costs against uvicorn's own httptools protocol, and against h11, all serving bench.baseline.

    .venv/bin/python bench/protocol.py [--duration 10] [--connections 10] [--rounds 3]

Needs wrk. Each protocol serves in a process of its own, one after the other, round after round
(so that a change in the machine's load touches all of them). Two figures per protocol, each the
median of its rounds and its ratio to uvicorn's httptools protocol: requests per second, and the
server's CPU time per request (user and system, from /proc), which a machine shared with other
work disturbs much less than it does the rate.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import free_port  # noqa: E402

PROTOCOLS = ("httptools", "widget", "h11")


def serve(protocol: str, port: int) -> None:
    """Run in the child: bench.baseline's app under `protocol`."""
    import uvicorn

    from bench.baseline import app
    from widget.config import load_settings
    from widget.serving import AddressLimit, HeadLimits, file_budget, http_protocol

    http: object = protocol
    if protocol == "widget":
        settings = load_settings(environ={})  # the defaults, as `widget serve` would have them
        limits = HeadLimits(
            settings.max_header_bytes, settings.max_header_count, settings.header_timeout_s,
            settings.body_timeout_s,
        )  # fmt: skip
        per_address = AddressLimit(settings.connections_per_address, settings.trusted_proxies)
        http = http_protocol(limits, file_budget(), per_address)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                http=http)  # type: ignore[arg-type]  # fmt: skip


def start(protocol: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", protocol, str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{protocol} did not start")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pid: int, url: str, duration: int, connections: int) -> tuple[float, float]:
    """(requests per second, server CPU microseconds per request) under wrk."""
    command = ["wrk", "-t1", f"-c{connections}", "--timeout", "5s"]
    subprocess.run([*command, "-d2s", url], capture_output=True, check=True)  # warm up
    before = cpu_seconds(pid)
    output = subprocess.run(
        [*command, f"-d{duration}s", url], capture_output=True, text=True, check=True
    ).stdout
    spent = cpu_seconds(pid) - before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rps, spent / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=2, metavar=("PROTOCOL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    rps: dict[str, list[float]] = {protocol: [] for protocol in PROTOCOLS}
    cpu_us: dict[str, list[float]] = {protocol: [] for protocol in PROTOCOLS}
    for _ in range(args.rounds):
        for protocol in PROTOCOLS:
            process, url = start(protocol)
            try:
                rate, cost = measure(process.pid, url, args.duration, args.connections)
            finally:
                process.terminate()
                process.wait(timeout=10)
            rps[protocol].append(rate)
            cpu_us[protocol].append(cost)
    rate_0 = statistics.median(rps["httptools"])
    cost_0 = statistics.median(cpu_us["httptools"])
    print(f"{'protocol':<11}{'req/s':>9}{'ratio':>7}{'CPU us/req':>12}{'ratio':>7}   runs (req/s)")
    for protocol in PROTOCOLS:
        rate, cost = statistics.median(rps[protocol]), statistics.median(cpu_us[protocol])
        runs = ", ".join(f"{r:.0f}" for r in rps[protocol])
        print(f"{protocol:<11}{rate:>9.0f}{rate / rate_0:>7.3f}{cost:>12.1f}{cost / cost_0:>7.3f}"
              f"   {runs}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
