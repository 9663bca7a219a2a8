"""The outbox worker: does what committed transactions queued, after the commit.

Every instance runs one. Jobs are claimed with a lease (a crashed worker's jobs come back), and
a job that fails is retried later, each wait four times the one before, until it is given up
and kept, marked failed, for an admin to see. A job is done at least once: a worker killed
between sending and recording may send one email twice, never none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from widget.config import Settings
from widget.errors import StorageUnavailable
from widget.logs import redact
from widget.metrics import Metrics
from widget.page_titles import PageTitles
from widget.records import NewJob, OutboxJob
from widget.storage import Storage

from .mail import BadRecipient, Mail, Mailer
from .plan import NotificationPlanner
from .webhooks import WebhookError, Webhooks

__all__ = ["Outbox", "finish_or_cancel"]

log = logging.getLogger(__name__)

LEASE_S = 300.0
BATCH = 20
POLL_S = 5.0  # how soon jobs queued by other instances (or due for retry) are noticed
MAX_ATTEMPTS = 8
MAX_WAIT_S = 6 * 3600.0
STOP_GRACE_S = 5.0


async def finish_or_cancel(task: asyncio.Task[None], grace_s: float = STOP_GRACE_S) -> None:
    """Wait for a background task told to stop to end its work in hand; after `grace_s`
    seconds, cancel it. Shared by the outbox and the feed poller."""
    try:
        await asyncio.wait_for(asyncio.shield(task), grace_s)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Outbox:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        planner: NotificationPlanner,
        mailer: Mailer,
        webhooks: Webhooks,
        metrics: Metrics | None = None,
        titles: PageTitles | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.planner = planner
        self.mailer = mailer
        self.webhooks = webhooks
        self.titles = titles
        self.metrics = metrics or Metrics()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_retry: float | None = None  # loop time of the soonest retry set here
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        """Let the job in hand finish (for a few seconds at most), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await finish_or_cancel(self._task, STOP_GRACE_S)
        self._task = None
        # Stopped: jobs done by hand from now on (work_once, as tests drive it) are done whole.
        self._stopping = False

    def wake(self) -> None:
        """Something was just queued: look now rather than at the next poll."""
        self._wake.set()

    def retry_delay(self, attempts: int) -> float | None:
        """Seconds before attempt `attempts + 1`; None once it is time to give up."""
        if attempts >= MAX_ATTEMPTS:
            return None
        return float(min(self.settings.outbox_retry_s * 4 ** (attempts - 1), MAX_WAIT_S))

    async def _run(self) -> None:
        # Stopping is a flag, not a cancellation: asyncio.wait_for in Python 3.11 can swallow
        # a cancellation that arrives as its wait ends, and the loop would then run on.
        while not self._stopping:
            try:
                done = await self.work_once()
            except StorageUnavailable:
                done = 0
            except Exception:
                log.exception("outbox: unexpected error; carrying on")
                done = 0
            if done or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_s()):
                    await self._wake.wait()
            self._wake.clear()

    def _idle_s(self) -> float:
        """How long to wait for news: until the next poll, or the next retry if sooner."""
        if self._next_retry is None:
            return POLL_S
        wait = self._next_retry - asyncio.get_running_loop().time()
        if wait <= 0:  # due: the next claim, made after this, takes it
            self._next_retry = None
            return 0.0
        return min(wait, POLL_S)

    async def work_once(self) -> int:
        """Do the jobs due now; how many were taken."""
        now = datetime.now(UTC)
        lease = timedelta(seconds=LEASE_S)
        jobs = await self.storage.claim_jobs(now, LEASE_S, BATCH)
        waiting = list(jobs)
        try:
            while waiting and not self._stopping:
                job = waiting.pop(0)
                # The batch's lease can run out while the jobs before this one take their
                # time (a mail server that answers slowly, each mail up to its timeouts):
                # another instance may have claimed it since, and doing it here as well would
                # send its mail twice. So each job's lease is renewed first, if still ours.
                renewed = datetime.now(UTC) + lease
                if not await self.storage.renew_job(job.id, now + lease, renewed):
                    log.warning(
                        "outbox job %s (%s) left to the worker that took it: its lease ran"
                        " out while the jobs before it were done", job.id, job.kind,
                    )  # fmt: skip
                    continue
                await self._do(job)
        finally:
            # Stopping (a restart, a deploy): what was claimed and not begun is let go, to be
            # done at once by whoever runs next, not once the lease runs out minutes later.
            for job in waiting:
                with contextlib.suppress(StorageUnavailable):
                    await self.storage.renew_job(job.id, now + lease, None)
        return len(jobs)

    async def _do(self, job: OutboxJob) -> None:
        try:
            follow_ups = await self._dispatch(job)
        except BadRecipient as exc:
            self.metrics.delivery_failed(job.kind)
            log.error("outbox job %s (%s) not sent, and never will be: %s", job.id, job.kind, exc)
            await self.storage.retry_job(job.id, None, str(exc))
            return
        except (OSError, WebhookError, StorageUnavailable) as exc:  # smtplib's are OSErrors
            self.metrics.delivery_failed(job.kind)
            attempts = job.attempts + 1
            delay = self.retry_delay(attempts)
            due = datetime.now(UTC) + timedelta(seconds=delay) if delay is not None else None
            what = f"outbox job {job.id} ({job.kind}) failed, attempt {attempts}"
            failure = _failure(exc)
            if due is None:
                log.error("%s; giving up: %s", what, failure)
            else:
                log.warning("%s; retrying in %.0f s: %s", what, delay, failure)
            await self.storage.retry_job(job.id, due, failure)
            if delay is not None:
                at = asyncio.get_running_loop().time() + delay
                self._next_retry = min(at, self._next_retry or at)
            return
        await self.storage.finish_job(job.id, follow_ups, datetime.now(UTC))
        if follow_ups:
            self.wake()

    async def _dispatch(self, job: OutboxJob) -> list[NewJob]:
        if job.kind == "comment":
            # The thread's title is read from its page first (when asked: a new thread, a new
            # title sent), so that the emails planned next carry it.
            if "title" in job.payload and self.titles is not None:
                await self.titles.retitle(int(job.payload["title"]))
            return await self.planner.plan(job.payload) if "comment" in job.payload else []
        if job.kind == "email":
            await self.mailer.send(Mail.from_payload(job.payload))
        elif job.kind == "webhook":
            await self.webhooks.call(job.id, job.payload)
        return []


def _failure(exc: Exception) -> str:
    """What went wrong, for the log and the job's record, without the recipient's address
    (SMTP errors name it, and servers' answers often repeat it)."""
    import smtplib  # loaded already when a mail failed

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(f"{code} {_text(said)}" for code, said in exc.recipients.values())
        return redact(f"the mail server refused the recipient: {answers}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return redact(f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}")
    return redact(f"{type(exc).__name__}: {exc}")


def _text(said: bytes | str) -> str:
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else said
