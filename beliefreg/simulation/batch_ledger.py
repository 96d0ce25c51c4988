"""The batch ledger: durable state of OpenAI Batch API jobs, in the response store's SQLite file.

Every step that costs money or cannot be repeated safely is recorded *before* it is attempted
and its result *as soon as* it is known, so a process killed at any point resumes without
sending a request twice:

``prepared``
    The job's requests are written (table ``batch_requests``) in the same transaction as the
    job row; nothing was sent.
``uploading`` -> ``uploaded``
    Recorded before the JSONL file is uploaded, then with the file id. A job found in
    ``uploading`` looks for its file (by its unique file name) among the uploaded files
    before uploading again.
``creating`` -> ``submitted``
    Recorded before the batch is created, then with the batch id. A job found in
    ``creating`` looks for its batch (by the ``beliefreg_job`` metadata, a random token)
    among the account's batches before creating one: a request is never submitted twice.
``collected``
    The batch reached a final status and its output and error lines were read: the answers
    are written to ``responses``, the lines to resubmit form a new ``prepared`` job
    (attempt 2), and the job is marked collected, all in one transaction.
``cancelled``
    Cancelled before it was submitted (nothing was sent).

Tables
------
``batch_jobs``: ``id``, ``token``, ``backend``, ``endpoint``, ``model``, ``url`` (the API path
of the requests), ``attempt``, ``state``, ``input_file_id``, ``batch_id``, ``remote_status``,
``output_file_id``, ``error_file_id``, ``n_requests``, ``n_bytes``, ``n_completed``,
``n_failed``, ``created_at``, ``updated_at``, ``note``.
``batch_requests``: ``job``, ``key`` (the request's store key and the line's ``custom_id``),
``run``, ``draw``, ``request`` (the canonical JSON payload).
"""

from __future__ import annotations

import datetime as _dt
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .store import Record, Store

__all__ = ["BatchLedger", "Job", "OPEN_STATES", "FINAL_REMOTE_STATUSES"]

OPEN_STATES = ("prepared", "uploading", "uploaded", "creating", "submitted")
FINAL_REMOTE_STATUSES = ("completed", "expired", "cancelled", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    backend TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    url TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    input_file_id TEXT,
    batch_id TEXT,
    remote_status TEXT,
    output_file_id TEXT,
    error_file_id TEXT,
    n_requests INTEGER NOT NULL,
    n_bytes INTEGER NOT NULL,
    n_completed INTEGER NOT NULL DEFAULT 0,
    n_failed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS batch_requests (
    job INTEGER NOT NULL REFERENCES batch_jobs(id),
    key TEXT NOT NULL,
    run INTEGER NOT NULL,
    draw INTEGER NOT NULL,
    request TEXT NOT NULL,
    PRIMARY KEY (job, key)
);
CREATE INDEX IF NOT EXISTS batch_requests_key ON batch_requests(key);
"""

_JOB_COLUMNS = ("id", "token", "backend", "endpoint", "model", "url", "attempt", "state",
                "input_file_id", "batch_id", "remote_status", "output_file_id",
                "error_file_id", "n_requests", "n_bytes", "n_completed", "n_failed",
                "created_at", "updated_at", "note")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Job:
    """One row of ``batch_jobs``."""

    id: int
    token: str
    backend: str
    endpoint: str
    model: str
    url: str
    attempt: int
    state: str
    input_file_id: str | None
    batch_id: str | None
    remote_status: str | None
    output_file_id: str | None
    error_file_id: str | None
    n_requests: int
    n_bytes: int
    n_completed: int
    n_failed: int
    created_at: str
    updated_at: str
    note: str | None

    @property
    def filename(self) -> str:
        """The name the JSONL file is uploaded under (unique: it carries the token)."""
        return f"beliefreg-{self.token}.jsonl"


@dataclass(frozen=True)
class PendingLine:
    """A request waiting in a job: its key, run, draw and canonical payload text."""

    key: str
    run: int
    draw: int
    request: str


class BatchLedger:
    """Batch jobs recorded in ``store`` (see the module docstring).

    Raises
    ------
    ValueError
        The store is in memory: batch jobs outlive the process, so they need a file.
    """

    def __init__(self, store: Store) -> None:
        if store.path is None:
            raise ValueError("the batch backend needs a store on disk (store=None keeps "
                             "nothing after the process ends, and batches take hours)")
        self.store = store
        with store.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    # -- reading -------------------------------------------------------------------------------
    def jobs(self, *, backend: str | None = None, endpoint: str | None = None,
             model: str | None = None, states: Sequence[str] | None = None) -> list[Job]:
        """Jobs (oldest first), optionally filtered."""
        where, args = [], []
        for col, val in (("backend", backend), ("endpoint", endpoint), ("model", model)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if states is not None:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        sql = f"SELECT {', '.join(_JOB_COLUMNS)} FROM batch_jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.store.transaction() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [Job(*row) for row in rows]

    def job(self, job_id: int) -> Job:
        with self.store.transaction() as conn:
            row = conn.execute(f"SELECT {', '.join(_JOB_COLUMNS)} FROM batch_jobs WHERE id=?",
                               (job_id,)).fetchone()
        return Job(*row)

    def lines(self, job_id: int) -> list[PendingLine]:
        with self.store.transaction() as conn:
            rows = conn.execute("SELECT key, run, draw, request FROM batch_requests "
                                "WHERE job=? ORDER BY rowid", (job_id,)).fetchall()
        return [PendingLine(*r) for r in rows]

    def in_open_jobs(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` that wait in a job not yet collected."""
        out: set[str] = set()
        marks_open = ",".join("?" * len(OPEN_STATES))
        with self.store.transaction() as conn:
            for start in range(0, len(keys), 900):
                chunk = list(keys[start:start + 900])
                marks = ",".join("?" * len(chunk))
                out.update(r[0] for r in conn.execute(
                    f"SELECT r.key FROM batch_requests r JOIN batch_jobs j ON j.id = r.job "
                    f"WHERE r.key IN ({marks}) AND j.state IN ({marks_open})",
                    [*chunk, *OPEN_STATES]))
        return out

    # -- writing -------------------------------------------------------------------------------
    @staticmethod
    def _insert_job(conn: Any, *, backend: str, endpoint: str, model: str, url: str,
                    attempt: int, lines: Sequence[PendingLine], n_bytes: int) -> int:
        now = _now()
        cur = conn.execute(
            "INSERT INTO batch_jobs (token, backend, endpoint, model, url, attempt, state, "
            "n_requests, n_bytes, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'prepared', ?, ?, ?, ?)",
            (secrets.token_hex(12), backend, endpoint, model, url, attempt, len(lines),
             n_bytes, now, now))
        job_id = int(cur.lastrowid)
        conn.executemany(
            "INSERT INTO batch_requests (job, key, run, draw, request) VALUES (?, ?, ?, ?, ?)",
            [(job_id, ln.key, ln.run, ln.draw, ln.request) for ln in lines])
        return job_id

    def add_job(self, *, backend: str, endpoint: str, model: str, url: str, attempt: int,
                lines: Sequence[PendingLine], n_bytes: int) -> int:
        """Record a job and its requests (state ``prepared``) in one transaction."""
        with self.store.transaction() as conn:
            return self._insert_job(conn, backend=backend, endpoint=endpoint, model=model,
                                    url=url, attempt=attempt, lines=lines, n_bytes=n_bytes)

    def update(self, job_id: int, **fields: Any) -> None:
        """Set columns of a job (committed at once)."""
        bad = set(fields) - set(_JOB_COLUMNS)
        if bad:
            raise ValueError(f"unknown job columns {sorted(bad)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE batch_jobs SET {sets}, updated_at = ? WHERE id = ?",
                         [*fields.values(), _now(), job_id])

    def collect(self, job: Job, *, records: Iterable[Record], retry: Sequence[PendingLine],
                retry_bytes: int, remote_status: str, note: str | None) -> int | None:
        """In one transaction: write ``records``, record ``retry`` as a new job
        (attempt + 1), mark ``job`` collected. Returns the new job's id, if any."""
        with self.store.transaction() as conn:
            self.store.insert_records(conn, records)
            new_id = None
            if retry:
                new_id = self._insert_job(conn, backend=job.backend, endpoint=job.endpoint,
                                          model=job.model, url=job.url, attempt=job.attempt + 1,
                                          lines=retry, n_bytes=retry_bytes)
            conn.execute("UPDATE batch_jobs SET state='collected', remote_status=?, note=?, "
                         "updated_at=? WHERE id=?", (remote_status, note, _now(), job.id))
        return new_id


def request_text(payload: dict[str, Any]) -> str:
    """The canonical text of a payload as stored in ``batch_requests.request`` (the same
    serialisation as the ``responses.request`` column)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))
