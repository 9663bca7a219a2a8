"""Benchmark widget as shipped (`widget serve`: uvicorn, one worker, its request log on) with wrk,
against a bare Starlette route under uvicorn (no access log) in the same run; then the render
time of a thread's first page by thread size.

    .venv/bin/python bench/run.py [--duration 10] [--connections 10]

Needs wrk (Debian: apt-get install wrk). Everything runs on 127.0.0.1; figures are printed and
written to bench/results/latest.json. Ratios, not absolute numbers, are what compare across
machines: the load generator and the server share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from widget.auth.tokens import TokenSigner  # noqa: E402
from widget.comments import CommentForm, page_ref, post_comment  # noqa: E402
from widget.config import Settings, load_settings  # noqa: E402
from widget.render_workers import RenderWorkers  # noqa: E402
from widget.sites import add_site, settings_of  # noqa: E402
from widget.storage import storage_for_settings  # noqa: E402

BLOG = "http://blog.localhost:8000"
THREAD_PARAMS = "page=%2Fbench%2F&url=http%3A%2F%2Fblog.localhost%3A8000%2Fbench%2F&title=Bench"
COUNT_PAGES = [f"/post-{i}/" for i in range(10)]
LOREM = (
    "Just read your post and I think you make some *really* good points, especially about"
    " the relationship-building side. Would be cool to know more: [see here](https://example.com)."
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bench_settings(data_dir: Path, port: int = 8000, database_url: str = "") -> Settings:
    return load_settings(
        environ={},
        data_dir=str(data_dir),
        database_url=database_url,
        public_url=f"http://comments.localhost:{port}",
        demo=False,
        post_rate_per_minute=10**9,
    )


def plan_thread(comments: int, reply_share: float) -> list[int | None]:
    """For each comment in order, the index of the comment it replies to (None: top level).

    A reply answers one of the 20 comments written just before it, as conversations go, and the
    plan of the first comments is the same whatever the thread's length, so the first pages of
    a small and a big thread hold the same comments. (Drawn from all earlier comments instead,
    the first ones would gather more replies the longer the thread.)"""
    rng = random.Random(2026)
    plan: list[int | None] = []
    for n in range(comments):
        is_reply = n > 0 and rng.random() < reply_share
        plan.append(n - 1 - rng.randrange(min(20, n)) if is_reply else None)
    return plan


async def seed_thread(
    settings: Settings, site_id: str, page: str, comments: int, reply_share: float
) -> float:
    """Post a planned thread through the domain (rendering, storage); seconds taken.

    Comments go in waves, top level first and then each level of replies, each wave posted
    concurrently (so the writer commits them in groups) after the parents it needs."""
    storage = storage_for_settings(settings)
    renderer = RenderWorkers(settings.render_cpu_limit_s)
    await storage.open()
    try:
        site = await storage.get_site(site_id)
        if site is None:
            # wrk posts as fast as it can: no wait after the form opens.
            site = await add_site(storage, site_id, [BLOG], "Benchmark", {"min_seconds_to_post": 0})
        ref = page_ref(site, page, f"{BLOG}{page}", "Bench")
        signer = TokenSigner(settings.secret_key)
        site_settings = settings_of(site)
        plan = plan_thread(comments, reply_share)
        level: list[int] = []
        for parent in plan:
            level.append(0 if parent is None else level[parent] + 1)
        ids: dict[int, int] = {}

        async def one(n: int) -> None:
            parent = plan[n]
            website = "https://example.com" if n % 3 else ""
            form = CommentForm(
                f"{page} {n}: {LOREM}", f"Reader {n % 97}", f"r{n}@example.com", website, False,
                ids[parent] if parent is not None else None,
            )  # fmt: skip
            posted = await post_comment(
                storage, signer, ref, form, settings=site_settings, remote_ip="127.0.0.1",
                rate_limit=None, renderer=renderer,
            )  # fmt: skip
            ids[n] = posted.comment.id

        started = time.perf_counter()
        for wave in range(max(level) + 1):
            numbers = [n for n in range(comments) if level[n] == wave]
            for start in range(0, len(numbers), 500):
                await asyncio.gather(*(one(n) for n in numbers[start : start + 500]))
        return time.perf_counter() - started
    finally:
        renderer.close()
        await storage.close()


# -- servers and wrk ----------------------------------------------------------------------------


def start_uvicorn(
    target: str, port: int, env: dict[str, str], factory: bool
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--log-level", "warning", "--no-access-log"]  # fmt: skip
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    return wait_until_serving(process, f"http://127.0.0.1:{port}/", target)


def start_widget(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`widget serve` as shipped (its request log on, written to a file as a service's
    journal would take it)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "widget", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=out,
        )  # fmt: skip
    return wait_until_serving(process, f"http://127.0.0.1:{port}/healthz", "widget serve")


def wait_until_serving(
    process: subprocess.Popen[bytes], url: str, name: str
) -> subprocess.Popen[bytes]:
    """The process, once `url` answers (anything); killed if it does not within 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)


def memory_mb(pid: int) -> dict[str, float]:
    """A process's resident memory now and at its peak, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields["VmRSS"], "peak_mb": fields["VmHWM"]}


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
IDLE_SETTLE_S = 2.0  # after the first answer, before a server's idle memory is read
# Issue 13's targets for `widget serve`, beside bare Starlette measured in the same run (MB).
MEMORY_TARGETS_MB = {"idle": 45.0, "under load": 60.0}


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str, duration: int, connections: int, headers: dict[str, str] | None = None,
    script: Path | None = None, env: dict[str, str] | None = None, pids: list[int] | None = None,
) -> dict[str, float]:  # fmt: skip
    """wrk's requests a second, p99 and bad answers; with `pids`, also the server's CPU a
    request (microseconds): on a machine whose cores others share, it moves far less than
    the requests a second do."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    # A short warm-up, so that caches and connections are in their steady state.
    subprocess.run(
        [*command[:3], "-d2s", *command[4:], url], capture_output=True, env=env, check=True
    )
    cpu_before = cpu_seconds(pids or [])
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, env=env, check=True
    ).stdout
    cpu = cpu_seconds(pids or []) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99, output
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * _UNITS[p99.group(2)],
        "bad_responses": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",  # type: ignore[dict-item]
        "cpu_us": round(cpu / requests * 1e6, 1) if pids and requests else 0.0,
    }


# -- render time by thread size ---------------------------------------------------------------


async def first_page_render_ms(settings: Settings, page: str, runs: int) -> tuple[float, int]:
    """Median time to render a thread's first page with every cache cold (database read,
    tree, template), as the fragment endpoint does on a miss."""
    from widget.views.assets import Assets
    from widget.views.html import EmbedQuery, HtmlRenderer

    storage = storage_for_settings(settings)
    await storage.open()
    try:
        site = await storage.get_site("render")
        assert site is not None
        renderer = HtmlRenderer(settings, Assets(), storage)
        query = EmbedQuery.parse(site, {"page": page, "url": f"{BLOG}{page}", "title": "Bench"})
        head = await storage.get_thread_head("render", page)
        timings = []
        shown = 0
        for _ in range(runs):
            renderer.fragments = type(renderer.fragments)(renderer.fragments.max_bytes)
            started = time.perf_counter()
            fragment = await renderer.thread_fragment(query, head)
            timings.append((time.perf_counter() - started) * 1000)
            shown = fragment.body.count(b'class="wg-comment"')
        return statistics.median(timings), shown
    finally:
        await storage.close()


# -- the run ------------------------------------------------------------------------------------


def wrk_together(
    urls: list[str], duration: int, connections: int, headers: dict[str, str] | None = None,
    script: Path | None = None, env: dict[str, str] | None = None, pids: list[int] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """wrk against each URL at once (one per instance), the connections shared out; requests
    per second add up, the p99 is the worst one's (the CPU a request: one instance only)."""
    if len(urls) == 1:
        return wrk(urls[0], duration, connections, headers, script, env, pids)
    share = max(1, connections // len(urls))
    with ThreadPoolExecutor(len(urls)) as pool:
        parts = list(pool.map(lambda url: wrk(url, duration, share, headers, script, env), urls))
    return {
        "rps": sum(p["rps"] for p in parts),
        "p99_ms": max(p["p99_ms"] for p in parts),
        "bad_responses": sum(p["bad_responses"] for p in parts),
        "socket_errors": " ".join(str(p["socket_errors"]) for p in parts if p["socket_errors"]),
    }


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server at `url`, dropped afterwards."""
    schema = f"bench_{os.getpid()}_{int(time.time())}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}search_path={schema}"
    finally:
        asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


def measure_http(
    settings: Settings, instances: int, args: argparse.Namespace
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    asyncio.run(seed_thread(settings, "bench", "/bench/", 200, 0.3))
    for page in COUNT_PAGES:
        asyncio.run(seed_thread(settings, "bench", page, 3, 0.0))
    env = {
        **os.environ,
        "WIDGET_DATA_DIR": str(settings.data_dir),
        "WIDGET_DATABASE_URL": settings.database_url,
        "WIDGET_PUBLIC_URL": settings.public_url,
        "WIDGET_DEMO": "false",
        "WIDGET_POST_RATE_PER_MINUTE": str(10**9),
    }
    ports = [settings.public_port] + [free_port() for _ in range(instances - 1)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    fragment_urls = [f"{base}/embed/bench/thread/fragment?{THREAD_PARAMS}" for base in bases]
    document_urls = [f"{base}/embed/bench/thread?{THREAD_PARAMS}" for base in bases]
    counts_query = "site=bench&" + "&".join(f"page={p}" for p in COUNT_PAGES)
    counts_urls = [f"{base}/api/v1/counts?{counts_query}" for base in bases]
    runs: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {}

    def start_all(target: str, factory: bool) -> list[subprocess.Popen[bytes]]:
        return [start_uvicorn(target, port, env, factory) for port in ports]

    def serve_all() -> list[subprocess.Popen[bytes]]:
        return [start_widget(port, env, settings.data_dir / f"serve-{port}.log") for port in ports]

    baselines = start_all("bench.baseline:app", factory=False)
    time.sleep(IDLE_SETTLE_S)
    memory: dict[str, dict[str, float]] = {"bare Starlette, idle": memory_mb(baselines[0].pid)}
    runs["baseline (before)"] = wrk_together(
        [f"{b}/" for b in bases], args.duration, args.connections, pids=[baselines[0].pid]
    )
    memory["bare Starlette, under load"] = memory_mb(baselines[0].pid)
    for process in baselines:
        stop(process)

    servers = serve_all()
    server = [servers[0].pid]  # whose CPU a request is measured
    try:
        time.sleep(IDLE_SETTLE_S)
        memory["widget, idle"] = memory_mb(servers[0].pid)
        if not args.posting_only:
            document = httpx.get(document_urls[0], headers={"Accept-Encoding": "br"})
            assert document.status_code == 200 and document.headers["content-encoding"] == "br"
            extra["document_bytes_brotli"] = int(document.headers["content-length"])
            time.sleep(1)  # the best compression is made in the background after the first
            runs["iframe document, brotli"] = wrk_together(
                document_urls,
                args.duration,
                args.connections,
                {"Accept-Encoding": "gzip, br"},
                pids=server,
            )
            runs["iframe document, If-None-Match"] = wrk_together(
                document_urls, args.duration, args.connections,
                # In the coding it was sent in: each coding has an ETag of its own.
                {"Accept-Encoding": "br", "If-None-Match": document.headers["etag"]},
                pids=server,
            )  # fmt: skip
            first = httpx.get(fragment_urls[0])
            assert first.status_code == 200 and first.text.count('class="wg-comment"') > 50
            extra["fragment_bytes"] = len(first.content)
            runs["fragment"] = wrk_together(
                fragment_urls, args.duration, args.connections, pids=server
            )
            runs["fragment, gzip"] = wrk_together(
                fragment_urls,
                args.duration,
                args.connections,
                {"Accept-Encoding": "gzip"},
                pids=server,
            )
            runs["fragment, If-None-Match"] = wrk_together(
                fragment_urls, args.duration, args.connections,
                {"Accept-Encoding": first.request.headers["accept-encoding"],
                 "If-None-Match": first.headers["etag"]},
                pids=server,
            )  # fmt: skip
            counts = httpx.get(counts_urls[0]).json()["counts"]
            assert all(counts[p]["count"] == 3 for p in COUNT_PAGES), counts
            runs["counts, 10 pages"] = wrk_together(
                counts_urls, args.duration, args.connections, pids=server
            )
        posting_count = f"{bases[0]}/api/v1/counts?site=bench&page=/posting/"
        before = httpx.get(posting_count).json()["counts"]["/posting/"]["count"]
        runs["posting"] = wrk_together(
            bases, args.duration, args.connections, script=ROOT / "bench" / "post.lua",
            env={**os.environ, "WIDGET_BENCH_ORIGIN": settings.public_url}, pids=server,
        )  # fmt: skip
        after = httpx.get(posting_count).json()["counts"]["/posting/"]["count"]
        extra["comments_stored_during_posting"] = after - before
        memory["widget, under load"] = memory_mb(servers[0].pid)
        extra["server_peak_rss_mb"] = [memory_mb(p.pid)["peak_mb"] for p in servers]
        extra["memory_mb"] = memory
    finally:
        for process in servers:
            stop(process)

    baselines = start_all("bench.baseline:app", factory=False)
    runs["baseline (after)"] = wrk_together(
        [f"{b}/" for b in bases], args.duration, args.connections, pids=[baselines[0].pid]
    )
    for process in baselines:
        stop(process)
    reference = statistics.mean([runs["baseline (before)"]["rps"], runs["baseline (after)"]["rps"]])
    cpu_reference = statistics.mean(
        [runs["baseline (before)"]["cpu_us"], runs["baseline (after)"]["cpu_us"]]
    )
    for figures in runs.values():
        figures["ratio"] = round(figures["rps"] / reference, 3)
        # The same comparison by CPU a request: what the ratio would be on idle cores.
        if figures["cpu_us"] and cpu_reference:
            figures["cpu_ratio"] = round(cpu_reference / figures["cpu_us"], 3)
    return runs, extra


def print_memory(memory: dict[str, dict[str, float]]) -> None:
    """widget's first instance beside bare Starlette: resident when idle, and the peak (VmHWM)
    once its load is over, with issue 13's targets."""
    print(f"{'memory (MB)':<22}{'widget':>9}{'bare Starlette':>16}{'ratio':>7}{'target':>8}")
    for state, key in (("idle", "rss_mb"), ("under load", "peak_mb")):
        mine, bare = memory[f"widget, {state}"][key], memory[f"bare Starlette, {state}"][key]
        name = "idle (VmRSS)" if state == "idle" else "peak (VmHWM)"
        print(f"{name:<22}{mine:>9.1f}{bare:>16.1f}{mine / bare:>7.2f}"
              f"{MEMORY_TARGETS_MB[state]:>8.0f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--render-sizes", default="10,1000,100000", help="'' for none")
    parser.add_argument(
        "--postgres", metavar="URL", help="run on this PostgreSQL server (in a fresh schema)"
    )
    parser.add_argument("--instances", type=int, default=1, help="app instances (PostgreSQL)")
    parser.add_argument(
        "--posting-only", action="store_true", help="of the server's scenarios, posting alone"
    )
    args = parser.parse_args()
    if args.instances > 1 and not args.postgres:
        parser.error("several instances need a shared database: give --postgres URL")
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(), "args": vars(args)}

    with (
        tempfile.TemporaryDirectory(prefix="widget-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        database_url = stack.enter_context(postgres_schema(args.postgres)) if args.postgres else ""
        settings = bench_settings(Path(tmp) / "http", free_port(), database_url)
        runs, extra = measure_http(settings, args.instances, args)
        results.update(extra)
        results["wrk"] = runs

        render: dict[str, float] = {}
        render_shown: dict[str, int] = {}
        if args.render_sizes:
            render_url = (
                stack.enter_context(postgres_schema(args.postgres)) if args.postgres else ""
            )
            render_settings = bench_settings(Path(tmp) / "render", 8000, render_url)
            for size in (int(s) for s in args.render_sizes.split(",")):
                page = f"/thread-{size}/"
                seconds = asyncio.run(seed_thread(render_settings, "render", page, size, 0.3))
                print(f"seeded {size:,} comments in {seconds:.1f} s", file=sys.stderr)
                median_ms, shown = asyncio.run(first_page_render_ms(render_settings, page, 30))
                render[str(size)] = round(median_ms, 2)
                render_shown[str(size)] = shown
        results["first_page_render_ms"] = render
        results["first_page_comments"] = render_shown

    print(f"{'scenario':<32}{'req/s':>9}{'p99 ms':>9}{'ratio':>7}{'CPU us':>8}{'by CPU':>8}"
          f"{'bad':>5}")  # fmt: skip
    for name, figures in runs.items():
        print(f"{name:<32}{figures['rps']:>9.0f}{figures['p99_ms']:>9.2f}"
              f"{figures['ratio']:>7.2f}{figures['cpu_us']:>8.1f}"
              f"{figures.get('cpu_ratio', 0):>8.2f}{figures['bad_responses']:>5}")  # fmt: skip
    print(f"comments stored while posting: {results['comments_stored_during_posting']:,}")
    if "fragment_bytes" in results:
        print(f"fragment size: {results['fragment_bytes']:,} bytes")
    print(f"server peak RSS (MB, per instance): {results['server_peak_rss_mb']}")
    print_memory(results["memory_mb"])
    print(
        "first page render (ms, median): "
        + ", ".join(f"{k}: {v} ({render_shown[k]} comments shown)" for k, v in render.items())
    )
    if "1000" in render and "100000" in render:
        print(f"100,000 vs 1,000 comments: {render['100000'] / render['1000']:.2f}x")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = "latest" + ("-postgres" if args.postgres else "")
    name += f"-{args.instances}-instances" if args.instances > 1 else ""
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
