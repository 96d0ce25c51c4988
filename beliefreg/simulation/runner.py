"""The async runner: send requests with a concurrency limit, retry, store each answer at once.

Policy
------
* At most ``concurrency`` requests in flight. A rate limit (HTTP 429) halves the limit (not below
  one) and pauses every sender for the server's ``Retry-After`` (or the backoff delay); after a
  run of successes the limit grows back by one.
* A retryable failure (timeout, connection error, 5xx, 429, a malformed body, a response
  without log-probabilities) is sent again after an exponential backoff,
  ``min(max_delay, base_delay * 2**attempt)`` with +-25% jitter, and never sooner than the
  server's ``Retry-After``.
* A request that still fails after ``max_retries`` retries, or fails with a non-retryable error
  (a 400 for this request), is stored as an error row with its message.
* A quota error or a fatal error (authentication, unknown model) stops the run: nothing new is
  sent, the requests in flight are finished and stored, and the report says why it stopped.
* Every answer goes to a :class:`~.store_writer.StoreWriter`, whose thread commits the
  answers received in one transaction every 0.2 s (or every 500 answers): the event loop never
  waits for the disk. A run killed without warning loses at most the answers of the last
  0.2 s, which a resume sends again; every other exit commits everything first.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import RequestFailed
from .store import Record
from .store_writer import StoreWriter

if TYPE_CHECKING:
    from .backends.base import Backend
    from .progress import Progress
    from .store import Store

__all__ = ["Task", "RetryPolicy", "RunReport", "AdaptiveLimiter", "run_tasks"]


@dataclass(frozen=True)
class Task:
    """One request to send: its store key, payload, run index and draw."""

    key: str
    payload: dict[str, Any]
    run: int
    draw: int


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter that honours ``Retry-After``.

    Parameters
    ----------
    max_retries : int
        Retries after the first attempt (so ``max_retries + 1`` attempts at most).
    base_delay, max_delay : float
        Seconds: attempt ``k`` (0-based) waits ``min(max_delay, base_delay * 2**k)``, +-25%.
    max_retry_after : float
        Longest ``Retry-After`` honoured as given (longer values are cut to this).
    """

    max_retries: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 900.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        d = min(self.max_delay, self.base_delay * 2.0 ** attempt)
        d *= 1.0 + self.jitter * (2.0 * random.random() - 1.0)
        if retry_after is not None and retry_after > 0:
            d = max(d, min(float(retry_after), self.max_retry_after))
        return max(0.0, d)


@dataclass
class RunReport:
    """What a run did."""

    n_tasks: int = 0
    n_ok: int = 0
    n_failed: int = 0
    n_retries: int = 0
    n_rate_limited: int = 0
    cost_usd: float = 0.0
    stopped: str | None = None
    """``"quota"`` or ``"fatal"`` when the run stopped early, else None."""
    stop_error: RequestFailed | None = None
    errors: dict[str, str] = field(default_factory=dict)
    """Store key -> error message of the requests stored as errors."""
    elapsed_s: float = 0.0

    @property
    def n_not_sent(self) -> int:
        """Requests neither answered nor stored as errors (left for a resume)."""
        return self.n_tasks - self.n_ok - self.n_failed


class AdaptiveLimiter:
    """A concurrency limit that halves on rate limits and recovers slowly."""

    def __init__(self, limit: int) -> None:
        self.max_limit = max(1, int(limit))
        self.limit = self.max_limit
        self.active = 0
        self._cond = asyncio.Condition()
        self._paused_until = 0.0
        self._streak = 0

    async def acquire(self) -> None:
        while True:
            wait = self._paused_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            async with self._cond:
                if self.active < self.limit and self._paused_until <= time.monotonic():
                    self.active += 1
                    return
                await self._cond.wait_for(
                    lambda: self.active < self.limit or self._paused_until > time.monotonic())

    async def release(self) -> None:
        async with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def on_success(self) -> None:
        self._streak += 1
        if self.limit < self.max_limit and self._streak >= 2 * self.limit:
            self.limit += 1
            self._streak = 0

    def on_rate_limit(self, pause: float) -> None:
        self.limit = max(1, self.limit // 2)
        self._streak = 0
        self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, pause))


def _record(task: Task, backend: Backend, model: str, *, response: dict[str, Any] | None,
            status: str, error: str | None, attempts: int, input_tokens: int | None,
            output_tokens: int | None, cost: float | None, elapsed: float) -> Record:
    return Record(
        key=task.key, backend=backend.name, model=model, run=task.run, draw=task.draw,
        request=task.payload, response=response, status=status, error=error, attempts=attempts,
        input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost,
        elapsed_s=round(elapsed, 4),
    )


async def run_tasks(
    tasks: Iterable[Task],
    *,
    backend: Backend,
    model: str,
    store: Store,
    concurrency: int,
    policy: RetryPolicy,
    progress: Progress,
    n_tasks: int | None = None,
) -> RunReport:
    """Send ``tasks`` through ``backend`` and store every outcome; see the module docstring.

    ``tasks`` may be a lazy iterable (a streaming plan); then ``n_tasks`` gives its length.
    Workers take the next task when they are free, so the plan is consumed as it is sent.
    """
    if n_tasks is None:
        tasks = list(tasks)
        n_tasks = len(tasks)
    report = RunReport(n_tasks=n_tasks)
    source = iter(tasks)
    writer = StoreWriter(store)
    limiter = AdaptiveLimiter(concurrency)
    stop = asyncio.Event()
    price = backend.price(model)
    started = time.monotonic()

    async def sleep_unless_stopped(seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def process(task: Task) -> None:
        attempts = 0
        t0 = time.monotonic()
        while not stop.is_set():
            await limiter.acquire()
            if stop.is_set():
                await limiter.release()
                return
            attempts += 1
            failure: RequestFailed | None = None
            reply = None
            try:
                reply = await backend.send(task.payload, model)
            except RequestFailed as exc:
                failure = exc
            except Exception as exc:  # a bug or an unexpected client error: keep the run going
                failure = RequestFailed(f"{type(exc).__name__}: {exc}", retryable=False)
            finally:
                await limiter.release()
            if failure is None:
                assert reply is not None
                cost = None if price is None else price.cost(reply.input_tokens,
                                                             reply.output_tokens)
                writer.put(_record(task, backend, model, response=reply.response, status="ok",
                                   error=None, attempts=attempts,
                                   input_tokens=reply.input_tokens,
                                   output_tokens=reply.output_tokens, cost=cost,
                                   elapsed=time.monotonic() - t0))
                report.n_ok += 1
                if cost is not None and cost == cost:
                    report.cost_usd += cost
                limiter.on_success()
                progress.update(ok=True, cost=cost)
                return
            if failure.quota or failure.fatal:
                if not stop.is_set():
                    report.stopped = "quota" if failure.quota else "fatal"
                    report.stop_error = failure
                    stop.set()
                return
            if failure.rate_limited:
                report.n_rate_limited += 1
            if not failure.retryable or attempts > policy.max_retries:
                message = failure.message
                if failure.retryable:
                    message = f"{message} (gave up after {attempts} attempts)"
                writer.put(_record(task, backend, model, response=None, status="error",
                                   error=message, attempts=attempts, input_tokens=None,
                                   output_tokens=None, cost=None, elapsed=time.monotonic() - t0))
                report.n_failed += 1
                report.errors[task.key] = message
                progress.update(ok=False, cost=None)
                return
            report.n_retries += 1
            delay = policy.delay(attempts - 1, failure.retry_after)
            if failure.rate_limited:
                limiter.on_rate_limit(delay)
            await sleep_unless_stopped(delay)

    async def worker() -> None:
        while not stop.is_set():
            task = next(source, None)
            if task is None:
                return
            await process(task)

    n_workers = max(1, min(int(concurrency), n_tasks))
    try:
        await asyncio.gather(*(worker() for _ in range(n_workers)))
    finally:
        writer.close()  # commits what is left (at most one flush interval of answers)
        report.elapsed_s = time.monotonic() - started
    return report
