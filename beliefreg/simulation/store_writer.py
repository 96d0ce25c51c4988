"""Store writes off the event loop: a writer thread commits answers in batches.

An fsync'd SQLite commit takes milliseconds (3.4 ms measured on these machines); made on the
event loop for every answer it capped one process at about 60 requests per second. The runner
hands each record to a :class:`StoreWriter` instead, which returns at once; a thread commits
whatever has arrived, in one transaction, every ``flush_interval`` seconds (default 0.2) or as
soon as ``max_batch`` records (default 500) wait, whichever comes first.

Durability bound: a run killed without warning (SIGKILL, power loss) loses at most the
answers received in the last ``flush_interval`` seconds and not yet committed (never more
than ``max_batch`` plus those that arrived during the commit in progress). They have no row,
so running the study again sends them again. Every other exit (the run finishing, Ctrl-C, an
exception) flushes everything first.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Record, Store

__all__ = ["StoreWriter", "FLUSH_INTERVAL", "MAX_BATCH"]

#: Seconds between commits of the writer thread.
FLUSH_INTERVAL = 0.2
#: Records that trigger a commit before the interval is up.
MAX_BATCH = 500


class StoreWriter:
    """Commit records to ``store`` from a background thread, in batches.

    Parameters
    ----------
    store : Store
    flush_interval : float
        Longest time (seconds) a received record waits before its commit starts.
    max_batch : int
        A commit starts as soon as this many records wait.

    Raises
    ------
    StoreError
        From :meth:`put`, the error of a failed commit in the thread (its records are kept:
        :meth:`close` tries them again, :meth:`drain` hands them back for an emergency file).
    """

    def __init__(self, store: Store, *, flush_interval: float = FLUSH_INTERVAL,
                 max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.flush_interval = float(flush_interval)
        self.max_batch = int(max_batch)
        self._pending: list[Record] = []
        self._cond = threading.Condition()
        self._closing = False
        self.error: BaseException | None = None
        self.n_written = 0
        self.n_commits = 0
        self._thread = threading.Thread(target=self._loop, name="beliefreg-store-writer",
                                        daemon=True)
        self._thread.start()

    def put(self, record: Record) -> None:
        """Queue ``record`` (returns at once)."""
        if self.error is not None:
            raise self.error
        with self._cond:
            self._pending.append(record)
            if len(self._pending) >= self.max_batch:
                self._cond.notify()

    def _take(self) -> list[Record]:
        with self._cond:
            batch, self._pending = self._pending, []
            return batch

    def _commit(self, batch: list[Record]) -> None:
        try:
            self.store.put_many(batch)
        except BaseException as exc:
            with self._cond:  # keep them: close() tries again and raises if it fails
                self._pending[:0] = batch
            self.error = exc
            raise
        self.n_written += len(batch)
        self.n_commits += 1

    def _loop(self) -> None:
        while True:
            deadline = time.monotonic() + self.flush_interval
            with self._cond:
                while not self._closing and len(self._pending) < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                closing = self._closing
            batch = self._take()
            if batch:
                try:
                    self._commit(batch)
                except BaseException:
                    return
            if closing:
                return

    def flush(self) -> None:
        """Commit everything queued so far, in the calling thread's time."""
        with self._cond:
            self._cond.notify()
        batch = self._take()
        if batch:
            self._commit(batch)

    def close(self) -> None:
        """Stop the thread and commit what is left; raises if that final commit fails (an
        earlier failure of the thread is retried here first). The records that could not be
        committed stay available through :meth:`drain`."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        rest = self._take()
        if rest:
            try:
                self.store.put_many(rest)
            except BaseException:
                with self._cond:
                    self._pending[:0] = rest
                raise
            self.n_written += len(rest)
            self.n_commits += 1
        self.error = None

    def drain(self) -> list[Record]:
        """Remove and return the records not committed (after an error)."""
        return self._take()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
