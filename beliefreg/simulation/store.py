"""The response store: a SQLite file written as responses arrive.

Each request is one row, keyed by :func:`beliefreg.simulation.keys.stable_hash` of everything that
determines it (backend and endpoint, model, payload, run index, draw). Rows are committed one by
one in WAL mode with ``synchronous=FULL``, so a crash, a SIGKILL or Ctrl-C loses at most the
requests in flight. A request that failed after retries is stored with ``status='error'`` and its
message; running the study again sends it again. API keys never enter a row: payloads are built
without credentials and the client holds the key.

Table ``responses``
    ``key`` (primary key), ``backend``, ``model``, ``run``, ``draw``, ``request`` (canonical JSON
    payload), ``response`` (JSON, NULL for errors), ``status`` (``ok`` | ``error``), ``error``,
    ``attempts``, ``input_tokens``, ``output_tokens``, ``cost_usd``, ``created_at`` (UTC ISO
    8601), ``elapsed_s``.
Table ``probes``
    Whether an endpoint/model/API returned log-probabilities when probed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Store", "Record", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    run INTEGER NOT NULL,
    draw INTEGER NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error TEXT,
    attempts INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    created_at TEXT NOT NULL,
    elapsed_s REAL
);
CREATE TABLE IF NOT EXISTS probes (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    api TEXT NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (endpoint, model, api)
);
"""

_COLUMNS = ("key", "backend", "model", "run", "draw", "request", "response", "status", "error",
            "attempts", "input_tokens", "output_tokens", "cost_usd", "created_at", "elapsed_s")


@dataclass(frozen=True)
class Record:
    """One stored request and its outcome."""

    key: str
    backend: str
    model: str
    run: int
    draw: int
    request: dict[str, Any]
    response: dict[str, Any] | None
    status: str
    error: str | None = None
    attempts: int = 1
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    created_at: str = ""
    elapsed_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """A SQLite response store.

    Parameters
    ----------
    path : str or Path or None
        The database file (created with its directory if missing). ``None`` or ``":memory:"``
        keeps the rows in memory only, for one call.

    Examples
    --------
    >>> store = Store(None)
    >>> store.get_many(["nope"])
    {}
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path in (None, ":memory:") else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            ":memory:" if self.path is None else str(self.path),
            timeout=30.0,
            isolation_level=None,  # explicit transactions
            check_same_thread=False,
        )
        self._conn.execute("PRAGMA busy_timeout = 30000")
        if self.path is not None:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # pragma: no cover - e.g. network file systems
                raise OSError(f"cannot use WAL mode for {self.path} (got {mode!r})")
            self._conn.execute("PRAGMA synchronous = FULL")
        with self._lock:
            self._conn.executescript(_SCHEMA)
            row = self._conn.execute(
                "SELECT value FROM meta WHERE name='schema_version'").fetchone()
            if row is None:
                self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                   (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise OSError(f"{self.path}: store schema version {row[0]}, "
                              f"this beliefreg reads version {SCHEMA_VERSION}")

    # -- reading -------------------------------------------------------------------------------
    def _record(self, row: tuple[Any, ...]) -> Record:
        data = dict(zip(_COLUMNS, row, strict=True))
        data["request"] = json.loads(data["request"])
        data["response"] = None if data["response"] is None else json.loads(data["response"])
        return Record(**data)

    def get_many(self, keys: Iterable[str]) -> dict[str, Record]:
        """The stored records among ``keys`` (absent keys are left out)."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, Record] = {}
        cols = ", ".join(_COLUMNS)
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(
                        f"SELECT {cols} FROM responses WHERE key IN ({marks})", chunk):
                    rec = self._record(row)
                    out[rec.key] = rec
        return out

    def count_present(self, keys: Iterable[str]) -> int:
        """How many of ``keys`` have a stored row (ok or error)."""
        keys = list(dict.fromkeys(keys))
        n = 0
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                n += self._conn.execute(
                    f"SELECT COUNT(*) FROM responses WHERE key IN ({marks})", chunk).fetchone()[0]
        return n

    def ok_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that have an ``ok`` row (without reading the responses)."""
        keys = list(dict.fromkeys(keys))
        out: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 900):
                chunk = keys[start:start + 900]
                marks = ",".join("?" * len(chunk))
                out.update(r[0] for r in self._conn.execute(
                    f"SELECT key FROM responses WHERE status='ok' AND key IN ({marks})", chunk))
        return out

    def draws(self, backend: str, model: str) -> set[int]:
        """The draw indices with at least one row for ``backend`` and ``model``."""
        with self._lock:
            return {int(r[0]) for r in self._conn.execute(
                "SELECT DISTINCT draw FROM responses WHERE backend=? AND model=?",
                (backend, model))}

    def __iter__(self) -> Iterator[Record]:
        cols = ", ".join(_COLUMNS)
        with self._lock:
            rows = self._conn.execute(f"SELECT {cols} FROM responses ORDER BY rowid").fetchall()
        for row in rows:
            yield self._record(row)

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    # -- writing -------------------------------------------------------------------------------
    @staticmethod
    def _values(record: Record) -> list[Any]:
        values = [getattr(record, c) for c in _COLUMNS]
        values[_COLUMNS.index("request")] = json.dumps(record.request, sort_keys=True,
                                                       separators=(",", ":"))
        if record.response is not None:
            values[_COLUMNS.index("response")] = json.dumps(record.response,
                                                            separators=(",", ":"))
        if not record.created_at:
            values[_COLUMNS.index("created_at")] = _now()
        return values

    def insert_records(self, conn: sqlite3.Connection, records: Iterable[Record]) -> int:
        """Insert (or replace) ``records`` through ``conn`` inside an open
        :meth:`transaction`; returns how many."""
        marks = ",".join("?" * len(_COLUMNS))
        rows = [self._values(r) for r in records]
        conn.executemany(
            f"INSERT OR REPLACE INTO responses ({', '.join(_COLUMNS)}) VALUES ({marks})", rows)
        return len(rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on error).

        For writers that must change several tables at once (the batch ledger records a
        batch's answers and marks it collected in one commit)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def put(self, record: Record) -> None:
        """Write (or overwrite) one record and commit at once."""
        with self.transaction() as conn:
            self.insert_records(conn, [record])

    def put_many(self, records: Iterable[Record]) -> None:
        """Write (or overwrite) records in one transaction."""
        with self.transaction() as conn:
            self.insert_records(conn, records)

    # -- probes --------------------------------------------------------------------------------
    def get_probe(self, endpoint: str, model: str, api: str) -> tuple[bool, str | None] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT ok, detail FROM probes WHERE endpoint=? AND model=? AND api=?",
                (endpoint, model, api)).fetchone()
        return None if row is None else (bool(row[0]), row[1])

    def put_probe(self, endpoint: str, model: str, api: str, ok: bool, detail: str | None) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO probes VALUES (?, ?, ?, ?, ?, ?)",
                               (endpoint, model, api, int(ok), detail, _now()))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path) if self.path else ':memory:'!r})"
