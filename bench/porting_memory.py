"""Peak memory of `widget export` (each format) and `widget import` by size: the same command
on 10,000 and on 1,000,000 comments. Streaming means the two peaks are about equal.

    .venv/bin/python bench/porting_memory.py [--small 10000] [--large 1000000] [--import]

Each run is a fresh `widget` process; its peak RSS comes from the kernel (wait4). Figures are
printed and written to bench/results/porting-memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("jsonl", "wxr", "disqus", "csv")
TEXT = "A comment of ordinary length, with a [link](https://example.com) and *some* emphasis. " * 3


def widget(data_dir: Path, *args: str) -> tuple[float, float]:
    """Run `widget ARGS`; (peak RSS in MB, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update(WIDGET_DATA_DIR=str(data_dir), WIDGET_DEMO="false", WIDGET_LOG_LEVEL="warning")
    started = time.monotonic()
    # stderr to a file, not a pipe: nobody reads a pipe while waiting, and the import's
    # progress bar would fill it and stall.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([sys.executable, "-m", "widget", *args], env=env,
                                   stdout=subprocess.DEVNULL, stderr=errors)  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        if status != 0:
            errors.seek(0)
            raise SystemExit(f"widget {' '.join(args)} failed: {errors.read().decode()}")
    return usage.ru_maxrss / 1024, seconds


def seed(data_dir: Path, comments: int) -> None:
    """A site with `comments` comments over comments/100 pages, a third of them replies,
    written straight into the SQLite file (the HTTP path is not what is measured here)."""
    widget(data_dir, "site", "add", "bench", "--origin", "https://blog.example")
    rng = random.Random(7)
    db = sqlite3.connect(data_dir / "widget.db")
    pages = max(1, comments // 100)
    now = time.time() - comments
    db.executemany(
        "INSERT INTO threads (id, site_id, page_id, url, title, created_at)"
        " VALUES (?, 'bench', ?, ?, ?, ?)",
        ((n + 1, f"/post-{n}/", f"https://blog.example/post-{n}/", f"Post {n}", now)
         for n in range(pages)),
    )  # fmt: skip
    html = f"<p>{TEXT}</p>"

    def rows() -> Iterator[tuple[Any, ...]]:
        roots: dict[int, int] = {}
        for n in range(1, comments + 1):
            thread = (n - 1) % pages + 1
            parent = roots.get(thread) if rng.random() < 0.33 else None
            if parent is None:
                roots[thread] = n
            yield (
                n,
                thread,
                parent,
                parent,
                2 if parent else 1,
                f"Reader {n % 997}",
                f"reader{n % 997}@example.com",
                TEXT,
                html,
                "192.0.2.1",
                now + n,
            )

    db.executemany(
        "INSERT INTO comments (id, thread_id, parent_id, root_id, depth, status, author_name,"
        " author_email, body_source, body_html, remote_ip, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'approved', ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    db.commit()
    db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--import",
        dest="also_import",
        action="store_true",
        help="also import each size's JSON Lines export into an empty database",
    )
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="widget-porting-") as tmp:
        for size in (args.small, args.large):
            data = Path(tmp) / f"data-{size}"
            started = time.monotonic()
            seed(data, size)
            print(
                f"seeded {size:,} comments in {time.monotonic() - started:.0f} s", file=sys.stderr
            )
            figures: dict[str, dict[str, float]] = {}
            for format_name in FORMATS:
                out = Path(tmp) / f"export-{size}.{format_name}"
                rss, seconds = widget(data, "export", "--site", "bench", "--format", format_name,
                                      "-o", str(out))  # fmt: skip
                figures[f"export {format_name}"] = {
                    "peak_rss_mb": round(rss, 1), "seconds": round(seconds, 1),
                    "file_mb": round(out.stat().st_size / 2**20, 1),
                }  # fmt: skip
            if args.also_import:
                target = Path(tmp) / f"target-{size}"
                widget(target, "site", "add", "bench", "--origin", "https://blog.example")
                rss, seconds = widget(target, "import", str(Path(tmp) / f"export-{size}.jsonl"),
                                      "--site", "bench")  # fmt: skip
                figures["import jsonl"] = {
                    "peak_rss_mb": round(rss, 1),
                    "seconds": round(seconds, 1),
                }
            results[str(size)] = figures
    print(
        f"{'command':<16}"
        + "".join(f"{f'{int(s):,} peak MB':>20}" for s in results)
        + f"{'ratio':>8}"
    )
    small, large = (results[str(args.small)], results[str(args.large)])
    for name in small:
        ratio = large[name]["peak_rss_mb"] / small[name]["peak_rss_mb"]
        print(
            f"{name:<16}{small[name]['peak_rss_mb']:>20}{large[name]['peak_rss_mb']:>20}{ratio:>8.2f}"
            f"   ({large[name]['seconds']} s for {args.large:,})"
        )
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "porting-memory.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
