"""Run a study through OpenAI's Batch API: write, upload, create, poll, collect, resume.

1. The pending requests (those without an answer in the store and not already waiting in a
   batch) are written to the batch ledger (:mod:`.batch_ledger`) as jobs of at most
   ``max_batch_requests`` requests and ``max_batch_bytes`` bytes of JSONL.
2. Each job is uploaded as a JSONL file (``custom_id`` = the request's store key) and a batch
   is created from it; every step is recorded before and after, so a killed process finds
   its file or batch again instead of submitting twice.
3. Submitted batches are polled every ``poll_interval`` seconds (a progress bar shows the
   requests done and an ETA). A batch in a final status (completed, expired, cancelled,
   failed) is collected: its output lines become ``ok`` rows of the store (read later by the
   same belief extraction as the interactive backend); lines that failed or expired are
   resubmitted once in a new job; after that second failure they are stored as error rows
   (and reported). An answered line (HTTP 200) is kept as it is, with or without
   log-probabilities, as the interactive backend keeps it: asking again would pay again. Lines of a cancelled batch that never ran are released: a later run
   submits them again.

Cancel every open job with :func:`cancel_jobs` (``beliefreg batch cancel``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .batch_ledger import FINAL_REMOTE_STATUSES, OPEN_STATES, BatchLedger, Job, PendingLine
from .errors import BackendError, RequestFailed
from .planning import iter_tasks
from .runner import RunReport
from .store import Record

if TYPE_CHECKING:
    from .backends.openai_batch import OpenAIBatchBackend
    from .planning import PlanScan
    from .store import Store
    from .study import Study

__all__ = ["run_batches", "cancel_jobs", "BatchReport", "batch_status"]

log = logging.getLogger("beliefreg.simulation.batch")

#: A job's attempt after which failed lines are reported instead of resubmitted.
MAX_ATTEMPTS = 2


@dataclass
class BatchReport(RunReport):
    """What a batch run did (on top of :class:`~.runner.RunReport`)."""

    n_jobs_created: int = 0
    n_resubmitted: int = 0
    n_released: int = 0
    """Requests of cancelled batches that never ran (submitted again by a later run)."""


def _line_text(backend: OpenAIBatchBackend, key: str, payload: dict[str, Any],
               model: str) -> str:
    return json.dumps(backend.batch_line(key, payload, model), separators=(",", ":"),
                      ensure_ascii=False)


def _write_jobs(study: Study, backend: OpenAIBatchBackend, model: str, ledger: BatchLedger,
                the_scan: PlanScan) -> tuple[int, int]:
    """Record jobs for the pending requests not already waiting; (jobs, requests) added."""
    lines: list[PendingLine] = []
    n_bytes = 0
    n_jobs = n_req = 0

    def flush() -> None:
        nonlocal lines, n_bytes, n_jobs, n_req
        if lines:
            ledger.add_job(backend=backend.name, endpoint=backend.base_url, model=model,
                           url=backend.url, attempt=1, lines=lines, n_bytes=n_bytes)
            n_jobs += 1
            n_req += len(lines)
        lines, n_bytes = [], 0

    def chunks() -> Iterator[list[tuple[Any, dict[str, Any], str]]]:
        block: list[tuple[Any, dict[str, Any], str]] = []
        for task in iter_tasks(study, backend, model, the_scan):
            block.append(task)
            if len(block) >= 2000:
                yield block
                block = []
        if block:
            yield block

    for block in chunks():
        waiting = ledger.in_open_jobs([k for _, _, k in block])
        for item, payload, key in block:
            if key in waiting:
                continue
            size = len(_line_text(backend, key, payload, model).encode("utf-8")) + 1
            if size > backend.max_batch_bytes:
                raise BackendError(f"one request is {size:,} bytes of JSONL, above "
                                   f"max_batch_bytes={backend.max_batch_bytes:,}")
            if len(lines) >= backend.max_batch_requests or n_bytes + size > backend.max_batch_bytes:
                flush()
            lines.append(PendingLine(key, item.run, item.draw,
                                     json.dumps(payload, sort_keys=True, separators=(",", ":"))))
            n_bytes += size
    flush()
    return n_jobs, n_req


class _Driver:
    """Moves the open jobs of one backend/endpoint/model along (see the module docstring)."""

    def __init__(self, backend: OpenAIBatchBackend, model: str, ledger: BatchLedger,
                 report: BatchReport, client: Any) -> None:
        self.backend = backend
        self.model = model
        self.ledger = ledger
        self.report = report
        self.client = client
        self.price = backend.price(model)

    def open_jobs(self) -> list[Job]:
        return self.ledger.jobs(backend=self.backend.name, endpoint=self.backend.base_url,
                                model=self.model, states=OPEN_STATES)

    # -- files and batches ---------------------------------------------------------------------
    def _find_file(self, job: Job) -> str | None:
        for f in self.client.files.list(purpose="batch"):
            if getattr(f, "filename", None) == job.filename:
                return str(f.id)
        return None

    def _find_batch(self, job: Job) -> Any:
        for b in self.client.batches.list(limit=100):
            if (getattr(b, "metadata", None) or {}).get("beliefreg_job") == job.token:
                return b
        return None

    def upload(self, job: Job) -> None:
        if job.state == "uploading":  # killed during an upload: was it stored?
            found = self._find_file(job)
            if found is not None:
                self.ledger.update(job.id, state="uploaded", input_file_id=found)
                return
        self.ledger.update(job.id, state="uploading")
        with tempfile.TemporaryDirectory(prefix="beliefreg-batch-") as tmp:
            path = Path(tmp) / job.filename
            with open(path, "w", encoding="utf-8") as fh:
                for ln in self.ledger.lines(job.id):
                    payload = json.loads(ln.request)
                    fh.write(_line_text(self.backend, ln.key, payload, self.model))
                    fh.write("\n")
            with open(path, "rb") as fh:
                f = self.client.files.create(file=(job.filename, fh), purpose="batch")
        self.ledger.update(job.id, state="uploaded", input_file_id=str(f.id))

    def create(self, job: Job) -> None:
        if job.state == "creating":  # killed during a creation: does the batch exist?
            found = self._find_batch(job)
            if found is not None:
                self.ledger.update(job.id, state="submitted", batch_id=str(found.id),
                                   remote_status=str(found.status))
                return
        self.ledger.update(job.id, state="creating")
        b = self.client.batches.create(input_file_id=job.input_file_id, endpoint=job.url,
                                       completion_window=self.backend.completion_window,
                                       metadata={"beliefreg_job": job.token})
        self.ledger.update(job.id, state="submitted", batch_id=str(b.id),
                           remote_status=str(b.status))
        self.report.n_jobs_created += 1

    def poll(self, job: Job) -> tuple[Any, bool]:
        """The batch object and whether it is final (collected when it is)."""
        b = self.client.batches.retrieve(job.batch_id)
        counts = getattr(b, "request_counts", None)
        done = int(getattr(counts, "completed", 0) or 0)
        failed = int(getattr(counts, "failed", 0) or 0)
        if (str(b.status), done, failed) != (job.remote_status, job.n_completed, job.n_failed):
            self.ledger.update(job.id, remote_status=str(b.status), n_completed=done,
                               n_failed=failed)
        if str(b.status) in FINAL_REMOTE_STATUSES:
            self.collect(job, b)
            return b, True
        return b, False

    # -- collecting ----------------------------------------------------------------------------
    def _lines_of(self, file_id: str | None) -> dict[str, dict[str, Any]]:
        if not file_id:
            return {}
        raw = self.client.files.content(file_id).read()
        out: dict[str, dict[str, Any]] = {}
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                log.warning("unreadable line in batch file %s: %r", file_id, line[:200])
                continue
            if isinstance(obj, dict) and isinstance(obj.get("custom_id"), str):
                out[obj["custom_id"]] = obj
        return out

    def collect(self, job: Job, batch: Any) -> None:
        status = str(batch.status)
        outputs = self._lines_of(getattr(batch, "output_file_id", None))
        errors = self._lines_of(getattr(batch, "error_file_id", None))
        batch_errors = getattr(batch, "errors", None)
        batch_error = None
        if status == "failed":
            data = getattr(batch_errors, "data", None) or []
            batch_error = "; ".join(str(getattr(e, "message", e)) for e in data) or "failed"
        records: list[Record] = []
        retry: list[PendingLine] = []
        retry_bytes = released = n_ok = n_err = 0
        for ln in self.ledger.lines(job.id):
            message, code = None, None
            line = outputs.get(ln.key)
            response = (line or {}).get("response") or {}
            if line is not None and response.get("status_code") == 200:
                # kept as it is, with or without log-probabilities (as the interactive
                # backend does): asking again would pay again for the same answer
                body = self.backend._redactor.obj(response.get("body") or {})
                usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
                n_in, n_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
                cost = None if self.price is None else self.price.cost(n_in, n_out)
                records.append(Record(
                    key=ln.key, backend=self.backend.name, model=self.model, run=ln.run,
                    draw=ln.draw, request=json.loads(ln.request), response=body,
                    status="ok", attempts=job.attempt,
                    input_tokens=None if n_in is None else int(n_in),
                    output_tokens=None if n_out is None else int(n_out), cost_usd=cost))
                n_ok += 1
                if cost is not None and not math.isnan(cost):
                    self.report.cost_usd += cost
                continue
            else:
                message, code = _describe(line or errors.get(ln.key), status, batch_error)
            if code == "batch_cancelled":
                released += 1
                continue
            if job.attempt < MAX_ATTEMPTS:
                retry.append(ln)
                payload = json.loads(ln.request)
                retry_bytes += len(_line_text(self.backend, ln.key, payload,
                                              self.model).encode("utf-8")) + 1
                continue
            message = f"{message} (batch {job.batch_id}, attempt {job.attempt} of {MAX_ATTEMPTS})"
            records.append(Record(key=ln.key, backend=self.backend.name, model=self.model,
                                  run=ln.run, draw=ln.draw, request=json.loads(ln.request),
                                  response=None, status="error", error=message,
                                  attempts=job.attempt))
            self.report.errors[ln.key] = message
            n_err += 1
        note = (f"{n_ok} ok, {n_err} reported, {len(retry)} resubmitted, {released} released"
                + (f"; {batch_error}" if batch_error else ""))
        self.ledger.collect(job, records=records, retry=retry, retry_bytes=retry_bytes,
                            remote_status=status, note=note)
        self.report.n_ok += n_ok
        self.report.n_failed += n_err
        self.report.n_resubmitted += len(retry)
        self.report.n_released += released
        log.info("batch %s (%s): %s", job.batch_id, status, note)


def _describe(line: dict[str, Any] | None, status: str,
              batch_error: str | None) -> tuple[str, str | None]:
    """(message, code) of a failed or missing batch line."""
    if batch_error is not None:
        return f"batch failed: {batch_error}", None
    if line is None:
        return f"missing from the outputs of a batch that ended {status}", (
            "batch_cancelled" if status == "cancelled" else None)
    err = line.get("error")
    if isinstance(err, dict):
        return f"{err.get('code') or 'error'}: {err.get('message') or ''}".strip(), err.get("code")
    response = line.get("response") or {}
    body = response.get("body") or {}
    berr = body.get("error") if isinstance(body, dict) else None
    text = berr.get("message") if isinstance(berr, dict) else None
    return f"HTTP {response.get('status_code')}: {text or body}", None


class _Bar:
    """Requests finished in the open batches, with tqdm's rate and ETA (or a log line)."""

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._last = 0.0
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ModuleNotFoundError:  # pragma: no cover
                return
            self._bar = tqdm(total=total, desc=desc, unit="req", dynamic_ncols=True,
                             file=sys.stderr)

    def show(self, done: int, total: int, states: str) -> None:
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = min(done, total)
            self._bar.set_postfix_str(states, refresh=False)
            self._bar.refresh()
        elif self.enabled and time.monotonic() - self._last > 60:
            self._last = time.monotonic()
            print(f"batches: {done:,} of {total:,} requests finished ({states})",
                  file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_batches(study: Study, backend: OpenAIBatchBackend, model: str, store: Store,
                the_scan: PlanScan, *, progress: bool = True) -> BatchReport:
    """Send the pending requests of ``the_scan`` as batches and wait for them (see the module
    docstring). Every answer is in ``store`` when this returns."""
    try:
        ledger = BatchLedger(store)
    except ValueError as exc:
        raise BackendError(str(exc)) from None
    report = BatchReport()
    n_jobs, n_new = _write_jobs(study, backend, model, ledger, the_scan)
    driver = _Driver(backend, model, ledger, report, backend.sync_client())
    jobs = driver.open_jobs()
    report.n_tasks = sum(j.n_requests for j in jobs)
    started = time.monotonic()
    bar = _Bar(report.n_tasks, progress, f"{backend.name}/{model}")
    finished_before = 0  # requests of jobs collected during this run
    failures = 0
    try:
        while jobs:
            waited = True
            running = 0
            for job in jobs:
                try:
                    if job.state in ("prepared", "uploading"):
                        driver.upload(job)
                        waited = False
                    elif job.state in ("uploaded", "creating"):
                        driver.create(job)
                        waited = False
                    else:
                        b, final = driver.poll(job)
                        if final:
                            finished_before += job.n_requests
                            waited = False
                        else:
                            counts = getattr(b, "request_counts", None)
                            running += int(getattr(counts, "completed", 0) or 0) \
                                + int(getattr(counts, "failed", 0) or 0)
                    failures = 0
                except Exception as exc:  # classified: fatal stops, the rest is retried
                    failure = exc if isinstance(exc, RequestFailed) else backend._classify(exc)
                    if failure.fatal or failure.quota:
                        report.stopped = "quota" if failure.quota else "fatal"
                        report.stop_error = failure
                        return report
                    failures += 1
                    log.warning("batch job %s (%s): %s; retrying", job.id, job.state,
                                failure.message)
                    if failures > 20:
                        report.stopped = "fatal"
                        report.stop_error = RequestFailed(
                            f"the Batch API kept failing: {failure.message}", fatal=True)
                        return report
            jobs = driver.open_jobs()
            states: dict[str, int] = {}
            for j in jobs:
                label = j.remote_status or j.state
                states[label] = states.get(label, 0) + 1
            total = finished_before + sum(j.n_requests for j in jobs)
            bar.show(finished_before + running, total,
                     ", ".join(f"{v} {k}" for k, v in sorted(states.items())) or "done")
            if jobs and waited:
                time.sleep(backend.poll_interval * (1 if failures == 0 else min(8, failures)))
    finally:
        bar.close()
        report.elapsed_s = time.monotonic() - started
    report.n_tasks = max(report.n_tasks, report.n_ok + report.n_failed)
    del n_jobs, n_new
    return report


def batch_status(store: Store) -> list[Job]:
    """Every batch job recorded in ``store`` (oldest first)."""
    return BatchLedger(store).jobs()


def cancel_jobs(store: Store, *, api_key: str | None = None) -> list[tuple[Job, str]]:
    """Cancel every open batch job in ``store``: submitted batches are cancelled at the API
    (their finished lines are still collected by the next run), jobs not yet submitted are
    marked cancelled. Returns ``(job, what was done)`` pairs."""
    from .backends.openai_batch import OpenAIBatchBackend

    ledger = BatchLedger(store)
    done: list[tuple[Job, str]] = []
    clients: dict[str, Any] = {}
    for job in ledger.jobs(states=OPEN_STATES):
        if job.state in ("prepared", "uploaded", "uploading"):
            ledger.update(job.id, state="cancelled", note="cancelled before submission")
            done.append((job, "cancelled before submission"))
            continue
        if job.state == "creating":  # the batch may exist: find it first
            if job.endpoint not in clients:
                clients[job.endpoint] = OpenAIBatchBackend(
                    base_url=job.endpoint, api_key=api_key or os.environ.get("OPENAI_API_KEY")
                ).sync_client()
            driver = _Driver(OpenAIBatchBackend(base_url=job.endpoint), job.model, ledger,
                             BatchReport(), clients[job.endpoint])
            found = driver._find_batch(job)
            if found is None:
                ledger.update(job.id, state="cancelled", note="cancelled before submission")
                done.append((job, "cancelled before submission"))
                continue
            ledger.update(job.id, state="submitted", batch_id=str(found.id))
            job = ledger.job(job.id)
        if job.endpoint not in clients:
            clients[job.endpoint] = OpenAIBatchBackend(
                base_url=job.endpoint, api_key=api_key or os.environ.get("OPENAI_API_KEY")
            ).sync_client()
        b = clients[job.endpoint].batches.cancel(job.batch_id)
        ledger.update(job.id, remote_status=str(b.status), note="cancel requested")
        done.append((job, f"cancel requested ({b.status})"))
    return done
