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
* Only what can succeed on retry is retried: timeouts, connection errors, HTTP 5xx, 429 and
  malformed bodies. An answer without usable log-probabilities (a content filter, a refusal,
  empty content) is an answer: backends return it, it is stored once and the panel says why it
  has no belief.
* A request that still fails after ``max_retries`` retries, or fails with a non-retryable error
  (a 400 for this request), is stored as an error row with its message.
* Before a request is sent it is claimed in the store (:meth:`Store.claim`, a lease renewed
  while the run lasts), so several processes on one store split the work and send each request
  once; keys another process holds are awaited until answered or their lease expires. Claims
  and renewals run in a thread of their own, so the event loop never waits for the store.
* A stop request (:class:`RunControl`: SIGINT/SIGTERM) stops sending; the requests in flight
  are awaited for at most ``drain_s`` seconds and stored; a second request aborts the wait.
* When the store cannot take an answer (disk full, I/O error), nothing new is sent, the answers
  in flight are awaited, and every answer the store did not take is kept in memory
  (``RunReport.unsaved``) and written to an emergency file (``RunReport.emergency_path``).
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
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import RequestFailed, StoreError
from .store import DEFAULT_LEASE_S, Record, new_owner, write_emergency_file
from .store_writer import StoreWriter

if TYPE_CHECKING:
    from .backends.base import Backend
    from .progress import Progress
    from .store import Store

__all__ = ["Task", "RetryPolicy", "RunReport", "RunControl", "AdaptiveLimiter", "run_tasks"]


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
    """``"quota"``, ``"fatal"``, ``"interrupted"`` or ``"store"`` when the run stopped early."""
    stop_error: RequestFailed | None = None
    store_error: StoreError | None = None
    signal_name: str | None = None
    aborted: bool = False
    """The wait for the requests in flight was cut short (second signal or ``drain_s``)."""
    n_done_elsewhere: int = 0
    """Requests answered by another process on the same store during this run."""
    sent_keys: set[str] = field(default_factory=set)
    """Keys whose outcome this run stored (or kept in memory)."""
    unsaved: list[Record] = field(default_factory=list)
    """Answers the store could not take (also in ``emergency_path``)."""
    emergency_path: Any = None
    in_flight: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    """Store key -> error message of the requests stored as errors."""
    elapsed_s: float = 0.0

    @property
    def n_not_sent(self) -> int:
        """Requests neither answered nor stored as errors (left for a resume)."""
        return self.n_tasks - self.n_ok - self.n_failed - self.n_done_elsewhere


class RunControl:
    """Stop requests from outside the runner (signal handlers), in the runner's event loop.

    The first :meth:`request_stop` stops sending (the requests in flight are awaited); the
    second aborts the wait.
    """

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.abort = asyncio.Event()
        self.reason: str | None = None
        self.signal_name: str | None = None
        self.n_requests = 0

    def request_stop(self, signal_name: str) -> int:
        """Record one stop request; returns how many were made so far (1 or more)."""
        self.n_requests += 1
        if self.n_requests == 1:
            self.signal_name = signal_name
            if self.reason is None:
                self.reason = "interrupted"
            self.stop.set()
        else:
            self.abort.set()
        return self.n_requests


class AdaptiveLimiter:
    """A concurrency limit that halves on rate limits and recovers slowly."""

    def __init__(self, limit: int) -> None:
        self.max_limit = max(1, int(limit))
        self.limit = self.max_limit
        self.active = 0
        self._cond = asyncio.Condition()
        self._paused_until = 0.0
        self._streak = 0
        self._waiting = 0

    async def acquire(self) -> None:
        while True:
            wait = self._paused_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if self.active < self.limit:  # one event loop: a free slot is taken at once
                self.active += 1
                return
            async with self._cond:
                self._waiting += 1
                try:
                    await self._cond.wait_for(
                        lambda: self.active < self.limit or self._paused_until > time.monotonic())
                finally:
                    self._waiting -= 1

    async def release(self) -> None:
        self.active -= 1
        if self._waiting:  # wake the senders waiting for a slot
            async with self._cond:
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
    control: RunControl | None = None,
    owner: str | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    since: str | None = None,
    drain_s: float = 30.0,
    on_stop: Callable[[RunReport], None] | None = None,
    n_tasks: int | None = None,
) -> RunReport:
    """Send ``tasks`` through ``backend`` and store every outcome; see the module docstring.

    Parameters
    ----------
    control : RunControl, optional
        Receives stop requests (signals); a new one is made when omitted.
    owner : str, optional
        Claim owner id (default :func:`~beliefreg.simulation.store.new_owner`).
    lease_s : float
        Claim lease in seconds; renewed every third of it while the run lasts.
    since : str, optional
        Start of the caller's run (ISO time): rows written after it by another process are
        final (see :meth:`Store.claim`).
    drain_s : float
        After a stop request, seconds to wait for the requests in flight.
    on_stop : callable, optional
        Called once with the report when an interrupt stops the run (to print a message).
    n_tasks : int, optional
        The number of tasks when ``tasks`` is a lazy iterable (a streaming plan): tasks are
        then drawn from it a claim batch at a time, so the plan is consumed as it is sent.
    """
    if n_tasks is None:
        tasks = list(tasks)
        n_tasks = len(tasks)
    report = RunReport(n_tasks=n_tasks)
    control = control or RunControl()
    owner = owner or new_owner()
    source = iter(tasks)
    claimed: deque[Task] = deque()
    deferred: dict[str, Task] = {}
    by_key: dict[str, Task] = {}  # tasks drawn from the source and not finished
    writer = StoreWriter(store)
    # claims and lease renewals run in this thread (see ``take``); shut down (waiting for a
    # claim in progress) before the claims are released at the end
    store_ops = ThreadPoolExecutor(max_workers=1, thread_name_prefix="beliefreg-claims")
    claim_lock = asyncio.Lock()
    limiter = AdaptiveLimiter(concurrency)
    stop = control.stop
    price = backend.price(model)
    started = time.monotonic()
    batch = max(8, 2 * int(concurrency))
    poll = max(0.05, min(1.0, lease_s / 8))

    async def sleep_unless_stopped(seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    def stop_for_store(exc: StoreError) -> None:
        if report.store_error is None:
            report.store_error = exc
        if report.stopped is None:
            report.stopped = "store"
            control.reason = "store"
        stop.set()

    def save(record: Record) -> None:
        """Hand the answer to the writer thread (it commits every 0.2 s, off the loop)."""
        report.sent_keys.add(record.key)
        by_key.pop(record.key, None)
        if report.store_error is not None:
            report.unsaved.append(record)
            return
        try:
            writer.put(record)
        except StoreError as exc:  # an earlier commit failed: keep its answers and this one
            report.unsaved.extend(writer.drain())
            report.unsaved.append(record)
            stop_for_store(exc)

    async def take(keys: list[str]) -> None:
        # in a thread: a claim is a write transaction, which waits for the writer thread's
        # commit (an fsync) in progress; the event loop goes on with the requests in flight
        result = await asyncio.wrap_future(store_ops.submit(
            store.claim, keys, owner, lease_s=lease_s, since=since))
        for k in result.mine:
            deferred.pop(k, None)
            claimed.append(by_key[k])
        for k in result.busy:
            deferred[k] = by_key[k]
        for k in result.done:  # answered by another process: never asked again
            deferred.pop(k, None)
            by_key.pop(k, None)
            report.n_done_elsewhere += 1
            progress.update(ok=True, cost=None, elsewhere=True)

    # the claim of the next block starts while the workers still have ``refill_at`` claimed
    # tasks to take, so that they do not wait for it (a claim waits for the writer thread's
    # commit in progress, an fsync)
    refill_at = max(1, int(concurrency))
    prefetch: list[asyncio.Future[bool] | None] = [None]
    source_done = [False]

    async def claim_next_block() -> bool:
        """Draw the next block of tasks from the plan and claim it (False: none left)."""
        block = list(islice(source, batch))
        if not block:
            source_done[0] = True
            return False
        for t in block:
            by_key[t.key] = t
        await take([t.key for t in block])
        return True

    async def next_task() -> Task | None:
        async with claim_lock:
            while not stop.is_set():
                try:
                    ahead = prefetch[0]
                    if ahead is not None and (ahead.done() or not claimed):
                        prefetch[0] = None
                        await ahead  # its claim's StoreError surfaces here
                        continue
                    if claimed:
                        if len(claimed) <= refill_at and ahead is None and not source_done[0]:
                            prefetch[0] = asyncio.ensure_future(claim_next_block())
                        return claimed.popleft()
                    if not source_done[0] and await claim_next_block():
                        continue
                    if deferred:
                        await sleep_unless_stopped(poll)
                        if not stop.is_set():
                            await take(list(deferred))
                        continue
                except StoreError as exc:
                    stop_for_store(exc)
                    return None
                return None
            return None

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
            report.in_flight += 1
            try:
                reply = await backend.send(task.payload, model)
            except RequestFailed as exc:
                failure = exc
            except Exception as exc:  # a bug or an unexpected client error: keep the run going
                failure = RequestFailed(f"{type(exc).__name__}: {exc}", retryable=False)
            finally:
                report.in_flight -= 1
                await limiter.release()
            if failure is None:
                assert reply is not None
                cost = None if price is None else price.cost(reply.input_tokens,
                                                             reply.output_tokens)
                save(_record(task, backend, model, response=reply.response, status="ok",
                             error=None, attempts=attempts, input_tokens=reply.input_tokens,
                             output_tokens=reply.output_tokens, cost=cost,
                             elapsed=time.monotonic() - t0))
                report.n_ok += 1
                if cost is not None and cost == cost:
                    report.cost_usd += cost
                limiter.on_success()
                progress.update(ok=True, cost=cost)
                return
            if failure.quota or failure.fatal:
                if report.stopped is None:
                    report.stopped = "quota" if failure.quota else "fatal"
                    report.stop_error = failure
                    control.reason = report.stopped
                    stop.set()
                return
            if failure.rate_limited:
                report.n_rate_limited += 1
            if not failure.retryable or attempts > policy.max_retries:
                message = failure.message
                if failure.retryable:
                    message = f"{message} (gave up after {attempts} attempts)"
                save(_record(task, backend, model, response=None, status="error",
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
            task = await next_task()
            if task is None:
                return
            await process(task)

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:  # in a thread, as claims
                await asyncio.wrap_future(store_ops.submit(store.renew, owner, lease_s=lease_s))
            except StoreError:  # the claims then expire: another process may take them over
                pass

    n_workers = max(1, min(int(concurrency), n_tasks))
    workers = [asyncio.create_task(worker()) for _ in range(n_workers)]
    beat = asyncio.create_task(heartbeat())
    everything = asyncio.gather(*workers)
    stop_wait = asyncio.create_task(stop.wait())
    abort_wait = asyncio.create_task(control.abort.wait())
    try:
        await asyncio.wait({everything, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not everything.done():
            if control.reason == "interrupted" and report.stopped is None:
                report.stopped = "interrupted"
            report.signal_name = control.signal_name
            if report.stopped == "interrupted" and on_stop is not None:
                on_stop(report)
            bound = drain_s if report.stopped == "interrupted" else None
            await asyncio.wait({everything, abort_wait}, timeout=bound,
                               return_when=asyncio.FIRST_COMPLETED)
            if not everything.done():
                report.aborted = True
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        else:
            everything.result()
        if report.stopped is None and control.reason == "interrupted":
            report.stopped = "interrupted"  # the signal came as the last request finished
            report.signal_name = control.signal_name
    finally:
        pending_claim = [f for f in prefetch if f is not None]
        for t in (beat, stop_wait, abort_wait, *pending_claim):
            t.cancel()
        await asyncio.gather(beat, stop_wait, abort_wait, *pending_claim,
                             return_exceptions=True)
        if not everything.done():  # cancelled from outside
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        store_ops.shutdown(wait=True)
        try:  # commits what is left (at most one flush interval of answers)
            writer.close()
        except StoreError as exc:
            report.unsaved.extend(writer.drain())
            stop_for_store(exc)
        try:
            store.release(owner)
        except StoreError:
            pass
        if report.unsaved:
            try:
                report.emergency_path = write_emergency_file(report.unsaved, store.path)
            except StoreError as exc:  # pragma: no cover - nowhere to write at all
                report.emergency_path = None
                report.store_error = report.store_error or exc
        report.elapsed_s = time.monotonic() - started
    return report
