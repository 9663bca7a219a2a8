"""What an operator watches, in the Prometheus text format: requests by route and status with
their latency, comments by outcome, live readers, the outbox, and
the process (memory, CPU, open files). Loaded only when `metrics_token` is set (see
widget/metrics.py): prometheus-client takes about a megabyte that a server nobody scrapes
need not hold.

Each app has a registry of its own (tests build many apps in one process). Counters are
counted as things happen; gauges that cost a query (the outbox) are read when scraped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from widget.errors import ClientError
from widget.metrics import Metrics, Posting
from widget.records import DatabaseGauges

__all__ = ["PrometheusMetrics"]

# Seconds. The fragment answers in about a millisecond from the cache; posting in tens.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class PrometheusMetrics(Metrics):
    counting = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "widget_http_requests", "HTTP requests answered, by route, method and status",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "widget_http_request_duration_seconds", "Time to answer, by route",
            ["route"], buckets=LATENCY_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.comments = Counter(
            "widget_comments", "Comments sent in: published (approved), held (pending), spam,"
            " or refused with a message (too fast, invalid, closed, ...)",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.outbox_failures = Counter(
            "widget_outbox_failures", "Email and webhook deliveries that failed (each try)",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.live_readers = Gauge(
            "widget_live_readers", "Readers following a thread's live updates",
            registry=self.registry,
        )  # fmt: skip
        self.outbox = Gauge(
            "widget_outbox_jobs", "Emails and webhook calls waiting (queued) or given up (failed)",
            ["state"], registry=self.registry,
        )  # fmt: skip
        self.write_queue = Gauge(
            "widget_database_write_queue", "SQLite: writes waiting for the one writer",
            registry=self.registry,
        )  # fmt: skip
        self.connections = Gauge(
            "widget_database_connections", "Database connections in use (busy) or idle: SQLite's"
            " readers, PostgreSQL's pool", ["state"], registry=self.registry,
        )  # fmt: skip
        self.connections_max = Gauge(
            "widget_database_connections_max", "The most database connections there can be",
            registry=self.registry,
        )  # fmt: skip

    @contextlib.contextmanager
    def posting(self) -> Iterator[Posting]:
        """Counts one comment sent in: set `outcome` once it is stored."""
        attempt = Posting()
        try:
            yield attempt
        except ClientError:
            self.comments.labels("refused").inc()
            raise
        if attempt.outcome:
            self.comments.labels(attempt.outcome).inc()

    def delivery_failed(self, kind: str) -> None:
        self.outbox_failures.labels(kind).inc()

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def exposition(
        self, live_readers: int, outbox: Mapping[str, int], database: DatabaseGauges
    ) -> bytes:
        """The text a scraper reads, with the gauges read at scrape time."""
        self.live_readers.set(live_readers)
        for state, count in outbox.items():
            self.outbox.labels(state).set(count)
        self.write_queue.set(database.write_queue)
        self.connections.labels("idle").set(database.connections_idle)
        self.connections.labels("busy").set(database.connections_busy)
        self.connections_max.set(database.connections_max)
        return bytes(generate_latest(self.registry))
