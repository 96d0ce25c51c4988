"""The response store: a SQLite file written as responses arrive, shared safely by processes.

Each request is one row, keyed by :func:`beliefreg.simulation.keys.stable_hash` of everything that
determines it (backend and endpoint, model, payload, run index, draw). Rows are committed one by
one in WAL mode with ``synchronous=FULL``, so a crash, a SIGKILL or Ctrl-C loses at most the
requests in flight. A request that failed after retries is stored with ``status='error'`` and its
message; running the study again sends it again. API keys never enter a row: payloads are built
without credentials, the client holds the key, and responses and messages are redacted.

Several processes may run the same study on one store. Before a request is sent it is
**claimed**: a row of ``claims`` with an owner (host, process id, a random tag) and an expiry
(a lease, renewed while the owner runs). A key is granted to one owner at a time; a claim whose
lease expired, or whose owner is a dead process on this host, is taken over. Storing the
response deletes the claim in the same transaction. So N processes split the work and together
send each request once.

The API that the runner uses (small on purpose; other write paths build on it)
------------------------------------------------------------------------------
* :meth:`Store.claim` ``(keys, owner, lease_s, since)`` -> :class:`Claims` (``mine``, ``busy``,
  ``done``), one transaction;
* :meth:`Store.renew` ``(owner, lease_s)`` and :meth:`Store.release` ``(owner)``;
* :meth:`Store.put` ``(record)`` and :meth:`Store.put_many` ``(records)``: write and commit,
  dropping the claims of those keys; an ``ok`` row is never replaced (the first answer wins);
* :meth:`Store.get_many`, :meth:`Store.count_present`, iteration, ``len``;
* :meth:`Store.import_file`: load the JSON-lines emergency file written when the store could
  not take answers (:func:`write_emergency_file`).

Every SQLite failure surfaces as :class:`StoreError`, whose message names the file and the cause
(disk full, read-only, not a database, damaged, older schema). A store that cannot be written
(read-only directory or file system) is opened read-only: it can be read, and a study whose
rows are all present is served from it.

Table ``responses``
    ``key`` (primary key), ``backend``, ``model``, ``run``, ``draw``, ``request`` (canonical JSON
    payload), ``response`` (JSON, NULL for errors), ``status`` (``ok`` | ``error``), ``error``,
    ``attempts``, ``input_tokens``, ``output_tokens``, ``cost_usd``, ``created_at`` (UTC ISO
    8601), ``elapsed_s``.
Table ``claims`` (schema 2)
    ``key`` (primary key), ``owner``, ``expires_at`` (Unix seconds), ``claimed_at``.
Table ``probes``
    Whether an endpoint/model/API returned log-probabilities when probed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import StoreError

__all__ = ["Store", "Record", "Claims", "SCHEMA_VERSION", "new_owner", "write_emergency_file"]

SCHEMA_VERSION = 2

_TABLES = """
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
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL,
    claimed_at TEXT NOT NULL
);
"""

_COLUMNS = ("key", "backend", "model", "run", "draw", "request", "response", "status", "error",
            "attempts", "input_tokens", "output_tokens", "cost_usd", "created_at", "elapsed_s")

#: Default lease of a claim, seconds; the runner renews it every third of that.
DEFAULT_LEASE_S = 120.0


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


@dataclass
class Claims:
    """The outcome of :meth:`Store.claim`, keys in the order asked.

    Attributes
    ----------
    mine : list of str
        Granted to the caller: send them.
    busy : list of str
        Held by another live owner: ask again later (they are done, or the lease expires).
    done : list of str
        Already answered (an ``ok`` row, or any row written since ``since``): do not send.
    """

    mine: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def new_owner() -> str:
    """A claim owner id: ``host:pid:random`` (the host and pid let a dead owner be detected)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str) -> bool:
    """True when ``owner`` is a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a zombie (killed, not yet reaped) runs no more
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


#: How long opening a store waits for other processes that hold it (the busy timeout too).
OPEN_TIMEOUT_S = 30.0


def _busy(exc: sqlite3.Error) -> bool:
    low = str(exc).lower()
    return "locked" in low or "busy" in low


def _while_busy(step: Any, timeout_s: float | None = None) -> Any:
    """Run ``step()``, again after a short jittered pause while SQLite answers "locked"/"busy".

    SQLite's busy handler does not cover every lock: switching a new file to WAL mode, or any
    step that must raise a shared lock to an exclusive one while another connection waits for
    the same, fails at once with "database is locked" (deadlock avoidance). Several processes
    opening one new store together meet exactly that, so opening retries until
    ``timeout_s`` (default :data:`OPEN_TIMEOUT_S`) and then raises the last error.
    """
    deadline = time.monotonic() + (OPEN_TIMEOUT_S if timeout_s is None else timeout_s)
    pause = 0.005
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause * (0.5 + _jitter.random()))
        pause = min(pause * 2, 0.25)


_jitter = random.Random()


def _cause(exc: BaseException) -> str:
    """A plain explanation of an SQLite or OS error."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "disk is full" in low or "no space" in low:
        return f"the disk is full ({text})"
    if "readonly" in low or "read-only" in low or "read only" in low:
        return f"it is read-only ({text})"
    if "file is not a database" in low:
        return f"it is not a SQLite database ({text})"
    if "malformed" in low or "disk image" in low:
        return f"the file is damaged or truncated ({text})"
    if "unable to open" in low:
        return f"it cannot be opened ({text})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return text


def write_emergency_file(records: Iterable[Record], near: Path | None) -> Path:
    """Write ``records`` as JSON lines next to ``near`` (else the working or temp directory).

    Used when the store cannot take answers that were paid for; :meth:`Store.import_file`
    loads the file back. Returns the path written.
    """
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    name = f"{near.name if near else 'beliefreg'}.emergency-{stamp}-{os.getpid()}.jsonl"
    import tempfile

    candidates = ([near.parent] if near is not None else []) + [Path.cwd(),
                                                                 Path(tempfile.gettempdir())]
    lines = "".join(json.dumps(asdict(r), separators=(",", ":")) + "\n" for r in records)
    last: OSError | None = None
    for folder in candidates:
        path = folder / name
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(lines)
                fh.flush()
                os.fsync(fh.fileno())
            return path
        except OSError as exc:
            last = exc
            try:
                path.unlink()
            except OSError:
                pass
    raise StoreError(f"could not write the emergency file anywhere ({last})")


class Store:
    """A SQLite response store.

    Parameters
    ----------
    path : str or Path or None
        The database file (created with its directory if missing). ``None`` or ``":memory:"``
        keeps the rows in memory only, for one call.
    read_only : bool, optional
        Open for reading only. Default: read-write, falling back to read-only when the file or
        its directory cannot be written (``store.read_only`` tells which).

    Raises
    ------
    StoreError
        The file cannot be opened or created, is not a SQLite database, is damaged, or was
        written by another schema version. The message names the file and the cause.

    Examples
    --------
    >>> store = Store(None)
    >>> store.get_many(["nope"])
    {}
    """

    def __init__(self, path: str | Path | None, *, read_only: bool | None = None) -> None:
        self.path = None if path in (None, ":memory:") else Path(path)
        self.read_only = bool(read_only)
        self.read_only_reason: str | None = "opened read-only" if read_only else None
        self._lock = threading.Lock()
        if self.path is None:
            self._conn = self._connect(":memory:")
            self._init_schema()
            return
        if self.path.is_dir():
            raise StoreError(f"store {self.path}: it is a directory, not a file", path=self.path)
        if not self.read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {self.path}: cannot create its directory: "
                                 f"{_cause(exc)}", path=self.path) from None
        if not self.read_only:
            try:
                _while_busy(self._open_read_write)
                return
            except sqlite3.Error as exc:  # _open_read_write closed its connection
                low = str(exc).lower()
                if not ("readonly" in low or "unable to open" in low or "read-only" in low
                        or "disk i/o" in low) or not self.path.exists():
                    if _busy(exc):
                        raise StoreError(
                            f"store {self.path}: cannot open: {_cause(exc)} (another process "
                            f"held it for {OPEN_TIMEOUT_S:g} s)", path=self.path) from None
                    raise self._error("cannot open", exc) from None
                self.read_only = True
                self.read_only_reason = _cause(exc)
        self._open_read_only()

    # -- opening -------------------------------------------------------------------------------
    def _open_read_write(self) -> None:
        assert self.path is not None
        self._conn = self._connect(str(self.path))
        try:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # pragma: no cover - network file systems
                raise StoreError(f"store {self.path}: cannot use WAL mode (got {mode!r})",
                                 path=self.path)
            self._conn.execute("PRAGMA synchronous = FULL")
            self._init_schema()
        except BaseException:
            self._conn.close()
            raise

    @staticmethod
    def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=OPEN_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False, uri=uri)
        return conn

    def _open_read_only(self) -> None:
        assert self.path is not None
        if not self.path.exists():
            raise StoreError(f"store {self.path}: does not exist and cannot be created",
                             path=self.path)
        quoted = self.path.resolve().as_posix().replace("?", "%3f").replace("#", "%23")
        errors = []
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            try:
                _while_busy(lambda flags=flags: self._open_checked(quoted, flags))
                return
            except sqlite3.Error as exc:
                errors.append(exc)
        raise self._error("cannot read", errors[-1])

    def _open_checked(self, quoted: str, flags: str) -> None:
        self._conn = self._connect(f"file:{quoted}?{flags}", uri=True)
        try:
            self._check_schema(write=False)
        except BaseException:
            self._conn.close()
            raise

    def _error(self, action: str, exc: BaseException) -> StoreError:
        where = self.path if self.path is not None else ":memory:"
        return StoreError(f"store {where}: {action}: {_cause(exc)}", path=self.path)

    def _init_schema(self) -> None:
        with self._lock:
            self._check_schema(write=True)

    def _check_schema(self, *, write: bool) -> None:
        conn = self._conn
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version: int | None = None
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
            version = None if row is None else int(row[0])
        if "responses" in tables:
            cols = tuple(r[1] for r in conn.execute("PRAGMA table_info(responses)"))
            if version is None or set(cols) != set(_COLUMNS):
                raise StoreError(
                    f"store {self.path}: not a beliefreg store of a known schema (table "
                    f"'responses' has columns {list(cols)}, schema version {version}); use "
                    "another --store path", path=self.path)
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(f"store {self.path}: store schema version {version}, this "
                             f"beliefreg reads versions up to {SCHEMA_VERSION}: upgrade "
                             "beliefreg or use another store", path=self.path)
        if version is not None and version < 1:
            raise StoreError(f"store {self.path}: unknown store schema version {version}",
                             path=self.path)
        if not write:
            return
        if version == SCHEMA_VERSION and "claims" in tables:
            return
        # create, or migrate version 1 (no claims table) to 2: only tables are added
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _TABLES.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- reading -------------------------------------------------------------------------------
    @staticmethod
    def _record(row: tuple[Any, ...], *, request: bool = True) -> Record:
        """A row of ``_COLUMNS`` (the order of :class:`Record`'s fields) as a record; with
        ``request=False`` the request payload is not decoded (an empty dict)."""
        key, backend, model, run, draw, req, resp, *rest = row
        return Record(key, backend, model, run, draw, json.loads(req) if request else {},
                      None if resp is None else json.loads(resp), *rest)

    def _read(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error("cannot read", exc) from None

    def get_many(self, keys: Iterable[str], *, request: bool = True) -> dict[str, Record]:
        """The stored records among ``keys`` (absent keys are left out).

        With ``request=False`` the request payloads are neither read nor decoded (each
        record's ``request`` is an empty dict): the panel needs only the responses."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, Record] = {}
        cols = ", ".join(c if request or c != "request" else "'{}'" for c in _COLUMNS)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._read(f"SELECT {cols} FROM responses WHERE key IN ({marks})", chunk):
                out[row[0]] = self._record(row, request=request)
        return out

    def count_present(self, keys: Iterable[str]) -> int:
        """How many of ``keys`` have a stored row (ok or error)."""
        keys = list(dict.fromkeys(keys))
        n = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            n += self._read(f"SELECT COUNT(*) FROM responses WHERE key IN ({marks})",
                            chunk)[0][0]
        return n

    def ok_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that have an ``ok`` row (without reading the responses)."""
        keys = list(dict.fromkeys(keys))
        out: set[str] = set()
        for start in range(0, len(keys), 900):
            chunk = keys[start:start + 900]
            marks = ",".join("?" * len(chunk))
            out.update(r[0] for r in self._read(
                f"SELECT key FROM responses WHERE status='ok' AND key IN ({marks})", chunk))
        return out

    def draws(self, backend: str, model: str) -> set[int]:
        """The draw indices with at least one row for ``backend`` and ``model``."""
        return {int(r[0]) for r in self._read(
            "SELECT DISTINCT draw FROM responses WHERE backend=? AND model=?", (backend, model))}

    def __iter__(self) -> Iterator[Record]:
        cols = ", ".join(_COLUMNS)
        for row in self._read(f"SELECT {cols} FROM responses ORDER BY rowid"):
            yield self._record(row)

    def __len__(self) -> int:
        return self._read("SELECT COUNT(*) FROM responses")[0][0]

    # -- writing -------------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"store {self.path}: cannot write: it is read-only "
                             f"({self.read_only_reason})", path=self.path)

    def _transaction(self, action: str, body: Any, *, durable: bool = True) -> Any:
        """Run ``body(conn)`` in one immediate transaction (:meth:`transaction`)."""
        with self.transaction(action, durable=durable) as conn:
            return body(conn)

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

    def put_many(self, records: Iterable[Record]) -> None:
        """Write records in one transaction and commit; drop their claims.

        An ``ok`` row already stored is kept (the first answer wins); an ``error`` row is
        replaced by any later record.

        Raises
        ------
        StoreError
            The store cannot take them (disk full, read-only, I/O error); nothing was written.
        """
        rows = [self._values(r) for r in records]
        if not rows:
            return
        self._transaction("cannot store answers", lambda conn: self._insert_rows(conn, rows))

    def _insert_rows(self, conn: sqlite3.Connection, rows: list[list[Any]]) -> int:
        cols = ", ".join(_COLUMNS)
        update = ", ".join(f"{c}=excluded.{c}" for c in _COLUMNS if c != "key")
        sql = (f"INSERT INTO responses ({cols}) VALUES ({','.join('?' * len(_COLUMNS))}) "
               f"ON CONFLICT(key) DO UPDATE SET {update} WHERE responses.status != 'ok'")
        conn.executemany(sql, rows)
        conn.executemany("DELETE FROM claims WHERE key=?", [(r[0],) for r in rows])
        return len(rows)

    def insert_records(self, conn: sqlite3.Connection, records: Iterable[Record]) -> int:
        """Write ``records`` through ``conn`` inside an open :meth:`transaction`, as
        :meth:`put_many` does (an ``ok`` row is never replaced; claims dropped)."""
        return self._insert_rows(conn, [self._values(r) for r in records])

    @contextlib.contextmanager
    def transaction(self, action: str = "cannot write", *,
                    durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction for writers that change several tables at once (the batch
        ledger stores a batch's answers and marks it collected in one commit). SQLite errors
        become :class:`StoreError`.

        ``durable=False`` commits without an fsync (``synchronous=NORMAL`` for this
        transaction): the change is visible to other processes and survives the writing
        process being killed, but not a power loss. For claims, which a power loss makes moot
        (every owner is gone; the leases expire)."""
        self._check_writable()
        with self._lock:
            conn = self._conn
            relax = not durable and self.path is not None
            try:
                if relax:
                    conn.execute("PRAGMA synchronous = NORMAL")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            try:
                                conn.execute("ROLLBACK")
                            except sqlite3.Error:
                                pass
                        raise
                finally:
                    if relax:
                        conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise self._error(action, exc) from None

    def put(self, record: Record) -> None:
        """Write one record and commit at once (see :meth:`put_many`)."""
        self.put_many([record])

    def import_file(self, path: str | Path) -> int:
        """Store the records of an emergency file (JSON lines); returns how many were read."""
        records = []
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    records.append(Record(**json.loads(line)))
        self.put_many(records)
        return len(records)

    # -- claims --------------------------------------------------------------------------------
    def claim(self, keys: Iterable[str], owner: str, *, lease_s: float = DEFAULT_LEASE_S,
              since: str | None = None) -> Claims:
        """Claim ``keys`` for ``owner`` for ``lease_s`` seconds, in one transaction.

        A key is granted when it has no ``ok`` row, no row written at or after ``since`` (an
        ISO time, the start of the caller's run: a row written meanwhile by another process is
        final for this run), and no claim of another owner that is still valid (not expired,
        owner not a dead process of this host). A read-only or in-memory store grants every
        key that is not done.
        """
        keys = list(dict.fromkeys(keys))
        out = Claims()
        if not keys:
            return out
        if self.read_only:
            self._check_writable()
        now = time.time()

        def body(conn: sqlite3.Connection) -> Claims:
            dead: dict[str, bool] = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = {k: (s, c) for k, s, c in conn.execute(
                    f"SELECT key, status, created_at FROM responses WHERE key IN ({marks})",
                    chunk)}
                held = {k: (o, e) for k, o, e in conn.execute(
                    f"SELECT key, owner, expires_at FROM claims WHERE key IN ({marks})", chunk)}
                grant = []
                for k in chunk:
                    row = rows.get(k)
                    if row is not None and (row[0] == "ok" or (since and row[1] >= since)):
                        out.done.append(k)
                        continue
                    h = held.get(k)
                    if h is not None and h[0] != owner and h[1] > now:
                        if h[0] not in dead:
                            dead[h[0]] = _owner_dead(h[0])
                        if not dead[h[0]]:
                            out.busy.append(k)
                            continue
                    out.mine.append(k)
                    grant.append((k, owner, now + lease_s, _now()))
                conn.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)", grant)
            return out

        return self._transaction("cannot claim requests", body, durable=False)

    def renew(self, owner: str, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        """Extend every claim of ``owner`` to ``lease_s`` seconds from now."""
        self._transaction("cannot renew claims", lambda conn: conn.execute(
            "UPDATE claims SET expires_at=? WHERE owner=?", (time.time() + lease_s, owner)),
            durable=False)

    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (what it did not send can be claimed at once)."""
        self._transaction("cannot release claims", lambda conn: conn.execute(
            "DELETE FROM claims WHERE owner=?", (owner,)))

    # -- probes --------------------------------------------------------------------------------
    def get_probe(self, endpoint: str, model: str, api: str) -> tuple[bool, str | None] | None:
        rows = self._read("SELECT ok, detail FROM probes WHERE endpoint=? AND model=? AND api=?",
                          (endpoint, model, api))
        return None if not rows else (bool(rows[0][0]), rows[0][1])

    def put_probe(self, endpoint: str, model: str, api: str, ok: bool, detail: str | None) -> None:
        if self.read_only:
            return  # a cache only: nothing is lost
        self._transaction("cannot store the probe", lambda conn: conn.execute(
            "INSERT OR REPLACE INTO probes VALUES (?, ?, ?, ?, ?, ?)",
            (endpoint, model, api, int(ok), detail, _now())))

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover
                pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path) if self.path else ':memory:'!r})"
