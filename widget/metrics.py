"""What the server counts for an operator, as the rest of the code sees it: comments sent in,
deliveries that failed. This base counts nothing (metrics are off unless `metrics_token` is
set); `metrics_for` gives the Prometheus one (widget/prometheus.py) when they are on, so a
server nobody scrapes never loads prometheus-client."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping

from widget.config import Settings
from widget.records import DatabaseGauges

__all__ = ["Metrics", "Posting", "metrics_for"]


@dataclasses.dataclass
class Posting:
    """One attempt to post, as `Metrics.posting` counts it: the outcome is the comment's
    status once stored (approved, pending, spam); an error a person is shown counts as refused."""

    outcome: str = ""


class Metrics:
    """Metrics off: every count is dropped."""

    counting = False

    @contextlib.contextmanager
    def posting(self) -> Iterator[Posting]:
        """Counts one comment sent in: set `outcome` once it is stored."""
        yield Posting()

    def delivery_failed(self, kind: str) -> None:
        """Counts one failed try of an outbox job of `kind` (email, webhook)."""

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Counts and times one request (views/metrics.py's middleware, with metrics on)."""

    def exposition(
        self, live_readers: int, outbox: Mapping[str, int], database: DatabaseGauges
    ) -> bytes:
        """The text a scraper reads: nothing, with metrics off."""
        return b""


def metrics_for(settings: Settings) -> Metrics:
    if not settings.metrics_token:
        return Metrics()
    from widget.prometheus import PrometheusMetrics

    return PrometheusMetrics()
