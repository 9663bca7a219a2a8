"""Comment text turned into HTML in worker processes, each job within a CPU-time limit.

markdown-it-py is pure Python, and some shapes of input cost it time that grows with the
square of their length: ten thousand "[" take half a second, and nested "<div>"s in an imported
HTML body cost nh3 seconds. Rendered on the event loop, such a comment stalls every request of
every reader meanwhile; rendered in a thread, it still holds the GIL. So text is rendered in a
few worker processes, forked from a fork server (quick to start, and inheriting none of the
server's threads), running at a lower CPU priority than the server they work for.

Each job gets a budget of CPU time (not wall-clock time, so that a busy machine does not
refuse ordinary comments):

- the worker arms a CPU-time interval timer whose signal interrupts the job: the caller gets
  TooComplex, and that worker is replaced (a parser interrupted halfway is not trusted again);
- native code only sees the signal when it returns, so the caller also gives up on a worker
  that has not answered long after its budget (stuck, or starved of CPU): it is killed and
  the caller gets WorkersUnavailable.

As with any multiprocessing, a worker imports the program's main module when it has a file:
`python -m widget`, the `widget` command and scripts with an `if __name__ == "__main__":`
guard are fine; a script without one would run again in each worker. Each worker takes about
20 MB.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import multiprocessing
import os
import queue
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any, TypeVar

from widget.config import DEFAULT_RENDER_CPU_LIMIT_S

__all__ = ["DEFAULT_CPU_LIMIT_S", "Named", "RenderWorkers", "TooComplex", "WorkersUnavailable"]

T = TypeVar("T")

log = logging.getLogger(__name__)

# The render_cpu_limit_s setting's default (it is kept with the settings, which every command
# imports, and this module is not quick to import).
DEFAULT_CPU_LIMIT_S = DEFAULT_RENDER_CPU_LIMIT_S
PROCESSES = 2
NICENESS = 10  # the server's readers come first: a worker gets the CPU they leave
# How long past its CPU budget a job may go unanswered (in wall-clock time) before its worker
# is taken for stuck. Generous: a worker at a lower priority waits for a busy server.
STUCK_AFTER_BUDGETS = 10
STUCK_AFTER_S = 5.0

_OK, _TOO_COMPLEX, _FAILED = "ok", "too complex", "failed"
# Jobs of at most this many characters are sent from the event loop: their pickle (at most 4
# bytes a character) fits in a pipe's 64 KiB buffer, so sending never waits for the worker.
MAX_DIRECT_CHARS = 15_000


@dataclasses.dataclass(frozen=True, slots=True)
class Named:
    """A function named by its module and name, imported where it runs: the server need not
    import what only its workers run (markdown-it, linkify and nh3: 2.6 MB of every server)."""

    module: str
    name: str

    def __call__(self, text: str) -> Any:
        return getattr(importlib.import_module(self.module), self.name)(text)


class TooComplex(Exception):
    """The text needs more CPU time than the budget to render."""


class WorkersUnavailable(Exception):
    """No worker answered in time (the machine is overloaded, or a worker hung)."""


class RenderWorkers:
    """A few worker processes, started when first needed. `call` blocks (for threads, such as
    an import's reader); `run` awaits (for requests). Both raise TooComplex or
    WorkersUnavailable, and hand on any other error of the job as a RuntimeError."""

    def __init__(self, cpu_limit_s: float, processes: int = PROCESSES) -> None:
        self.cpu_limit_s = cpu_limit_s
        self.stuck_after_s = cpu_limit_s * STUCK_AFTER_BUDGETS + STUCK_AFTER_S
        self._processes = processes
        # Idle workers; None is a place for a worker not started yet (or retired).
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(processes):
            self._idle.put(None)
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def run(self, function: Callable[[str], T], text: str) -> T:
        """`function(text)` in a worker, awaited without holding the event loop."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._processes)
        # At most one job per worker: the others wait here, costing nothing.
        async with self._slots:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:  # `call`'s threads hold them all: wait in a thread as they do
                worker = None
            else:
                if worker is not None and not self._closed and len(text) <= MAX_DIRECT_CHARS:
                    return await self._ask_directly(worker, function, text)
                self._idle.put(worker)
            # A worker to start, a long text, none idle, or stopping: in a thread, which may block.
            return await asyncio.to_thread(self.call, function, text)

    async def _ask_directly(self, worker: _Worker, function: Callable[[str], T], text: str) -> T:
        """A started worker's answer, awaited on the event loop (no thread in between: the
        job and most answers fit in the pipe's buffer, so neither end waits to write). A
        worker that fails in any way is stopped in a thread; one that died is replaced and
        asked again, in a thread, as `call` does."""
        try:
            worker.connection.send((function, text))
            await _readable(worker.connection, self.stuck_after_s)
            status, value = worker.connection.recv()
        except BaseException as exc:  # cancelled too: its answer is not for the next job
            self._idle.put(None)
            _stop_in_a_thread(worker)
            if isinstance(exc, OSError | EOFError):
                return await asyncio.to_thread(self.call, function, text)
            if isinstance(exc, _Stuck):
                raise self._stuck() from None
            raise
        kept: _Worker | None = worker
        if status == _TOO_COMPLEX or self._closed:  # it ends itself after that answer
            _stop_in_a_thread(worker)
            kept = None
        self._idle.put(kept)
        result: T = self._result(status, value)
        return result

    def call(self, function: Callable[[str], T], text: str) -> T:
        """`function(text)` in a worker; `function` must be a module-level function."""
        worker = self._idle.get()
        kept: _Worker | None = None  # what goes back to the idle ones
        try:
            if self._closed:
                if worker is not None:
                    worker.stop()
                raise WorkersUnavailable("the server is stopping")
            kept, (status, value) = self._ask(worker, function, text)
        finally:
            if kept is not None and self._closed:
                kept.stop()
                kept = None
            self._idle.put(kept)
        result: T = self._result(status, value)
        return result

    def _result(self, status: str, value: Any) -> Any:
        if status == _OK:
            return value
        if status == _TOO_COMPLEX:
            raise TooComplex(f"more than {self.cpu_limit_s:g} s of CPU time")
        raise RuntimeError(f"rendering failed in a worker: {value}")

    def _stuck(self) -> WorkersUnavailable:
        return _unavailable(
            f"a render worker did not answer within {self.stuck_after_s:g} s and was"
            " stopped (is the machine overloaded?)"
        )

    def _ask(
        self, worker: _Worker | None, function: Callable[[str], Any], text: str
    ) -> tuple[_Worker | None, tuple[str, Any]]:
        """The answer, and the worker to keep (None: it is stopped). On an exception, the
        worker is stopped already."""
        for attempt in (1, 2):
            try:
                worker = worker or _Worker(self.cpu_limit_s)
            except OSError as exc:
                raise _unavailable(f"a render worker could not be started ({exc})") from exc
            try:
                answer: tuple[str, Any] = worker.ask((function, text), self.stuck_after_s)
            except _Stuck:
                worker.stop()
                raise self._stuck() from None
            except (OSError, EOFError):
                # It died (killed from outside, or out of memory): once more with a new one.
                worker.stop()
                worker = None
                if attempt == 2:
                    raise _unavailable("the render workers died twice in a row") from None
                continue
            except BaseException:
                worker.stop()
                raise
            if answer[0] == _TOO_COMPLEX:  # it ends itself after that answer
                worker.stop()
                return None, answer
            return worker, answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the idle workers now, and the busy ones as they finish."""
        self._closed = True
        for _ in range(self._processes):
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                worker.stop()
            self._idle.put(None)


def _stop_in_a_thread(worker: _Worker) -> None:
    """Stopping waits for the process to end: not on the event loop."""
    asyncio.get_running_loop().run_in_executor(None, worker.stop)


async def _readable(connection: Connection, timeout_s: float) -> None:
    """Returns once `connection` has something to read; raises _Stuck after `timeout_s`."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not ready.done():
            ready.set_exception(error) if error else ready.set_result(None)

    fd = connection.fileno()
    loop.add_reader(fd, settle, None)
    timer = loop.call_later(timeout_s, settle, _Stuck())
    try:
        await ready
    finally:
        timer.cancel()
        loop.remove_reader(fd)


class _Stuck(Exception):
    """No answer in time (not an OSError, unlike TimeoutError: a worker that died is another
    case)."""


def _unavailable(reason: str) -> WorkersUnavailable:
    """Told to the operator here: the caller only says "try again" to the visitor."""
    log.warning("Comments cannot be rendered: %s", reason)
    return WorkersUnavailable(reason)


class _Worker:
    def __init__(self, cpu_limit_s: float) -> None:
        context = multiprocessing.get_context("forkserver")
        # The fork server imports the renderer once; each worker is a fork of it.
        context.set_forkserver_preload([__name__, "widget.rendering"])
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child_end, cpu_limit_s), name="widget-render", daemon=True
        )
        self.process.start()
        child_end.close()

    def ask(self, job: tuple[Callable[[str], Any], str], timeout_s: float) -> tuple[str, Any]:
        self.connection.send(job)
        if not self.connection.poll(timeout_s):
            raise _Stuck
        answer: tuple[str, Any] = self.connection.recv()
        return answer

    def stop(self) -> None:
        self.connection.close()  # an idle worker reads the end of its pipe and leaves
        self.process.join(timeout=1)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


# -- in the worker process ----------------------------------------------------------------------


class _OutOfTime(BaseException):
    """Raised by the CPU timer's signal; a BaseException, so no `except Exception` in the
    renderer can swallow it."""


_armed = False


def _out_of_time(signum: int, frame: FrameType | None) -> None:
    if _armed:  # a signal that lands just after the job is over interrupts nothing
        raise _OutOfTime


def _serve(connection: Connection, cpu_limit_s: float) -> None:
    global _armed
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops us
    signal.signal(signal.SIGPROF, _out_of_time)
    os.nice(NICENESS)
    while True:
        try:
            function, text = connection.recv()
        except EOFError:
            return
        try:
            _armed = True
            signal.setitimer(signal.ITIMER_PROF, cpu_limit_s)  # CPU time of this process
            answer: tuple[str, Any] = (_OK, function(text))
            _armed = False
        except _OutOfTime:
            answer = (_TOO_COMPLEX, None)
        except Exception as exc:  # a bug in the job: told to the caller, who raises it
            answer = (_FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            _armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)
        connection.send(answer)
        if answer[0] == _TOO_COMPLEX:
            return
