"""What reading a site's feed costs the poller: feedparser on a WordPress /feed/ of 10 posts (the
default length), and on a feed just under the 2 MiB the poller reads at most.

    .venv/bin/python bench/feed_parse.py

Each is parsed `--rounds` times (in the poller this runs in a thread, off the event loop); the
median and the slowest are printed, in milliseconds of wall time and of this process's CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.feeds import Post, wordpress_rss
from widget.notify.new_posts import MAX_FEED_BYTES, parse_feed

PARAGRAPH = "<p>" + "Words about the thing, and more words. " * 20 + "</p>"


def feed_of(count: int, paragraphs: int) -> bytes:
    posts = [Post(n, f"Post number {n}", "An excerpt. " * 10, PARAGRAPH * paragraphs)
             for n in range(1, count + 1)]  # fmt: skip
    return wordpress_rss(posts)


def measure(name: str, body: bytes, rounds: int) -> None:
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        entries = parse_feed(body, "application/rss+xml; charset=UTF-8")
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    print(
        f"{name}: {len(body) / 1024:,.0f} KiB, {len(entries)} entries;"
        f" wall median {statistics.median(walls):.1f} ms (max {max(walls):.1f}),"
        f" CPU median {statistics.median(cpus):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    measure("WordPress /feed/, 10 posts", feed_of(10, 8), rounds)
    big = feed_of(10, 8)
    count = 10
    while len(big) < MAX_FEED_BYTES * 0.95:  # the largest feed the poller still reads
        count += 10
        big = feed_of(count, 8)
    measure("largest feed read", big, max(3, rounds // 5))


if __name__ == "__main__":
    main()
