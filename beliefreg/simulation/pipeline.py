"""``simulate``: study -> requests -> store -> runner -> panel."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
import threading
import warnings
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .backends import get_backend
from .backends.base import Backend
from .collector import fewer_collections
from .design import Item
from .errors import (
    BackendError,
    BeliefSamplingWarning,
    BudgetExceededError,
    DuplicateRequestWarning,
    FailedRequestsWarning,
    QuotaExceededError,
    SimulationInterrupted,
    StoreError,
    StudyError,
)
from .panel import build_panel
from .planning import MAX_DRAWS, PlanScan, choose_draw, iter_chunks, iter_tasks, key_prefixes, scan
from .pricing import CostEstimate
from .progress import Progress
from .runner import RetryPolicy, RunControl, RunReport, Task, run_tasks
from .store import Record, Store, _now, new_owner
from .study import Study

__all__ = ["simulate", "estimate", "default_store_path", "plan", "prepare", "run_prepared",
           "PreparedRun"]

log = logging.getLogger("beliefreg.simulation")

T = TypeVar("T")

#: Largest number of fresh draws looked for in a store.
_MAX_DRAWS = MAX_DRAWS


def default_store_path() -> Path:
    """``$BELIEFREG_STORE``, else ``<cache>/store.sqlite`` (``~/.cache/beliefreg``)."""
    import os

    from .backends.llama_runtime import cache_dir

    env = os.environ.get("BELIEFREG_STORE")
    return Path(env) if env else cache_dir() / "store.sqlite"


class _DefaultStore:
    def __repr__(self) -> str:
        return "<default store>"


DEFAULT_STORE: Any = _DefaultStore()


@dataclass(frozen=True)
class Plan:
    """The requests of one draw of a study: items, payloads and store keys, aligned."""

    draw: int
    items: list[Item]
    payloads: list[dict[str, Any]]
    keys: list[str]


def plan(study: Study, backend: Backend, model: str, *, draw: int = 0) -> Plan:
    """Items, payloads and store keys of ``study`` for one draw.

    The key of a request is :func:`~beliefreg.simulation.keys.stable_hash` of the backend's
    identity (backend, endpoint or model file hash, model), the payload (which fixes the
    messages or prompt, every sampling parameter and the derived seed), the run index and the
    draw.
    """
    items: list[Item] = []
    payloads: list[dict[str, Any]] = []
    keys: list[str] = []
    for ch in iter_chunks(study, backend, model, draw=draw, payloads=True):
        items += ch.items
        payloads += ch.payloads or []
        keys += ch.keys
    return Plan(draw=draw, items=items, payloads=payloads, keys=keys)


def _choose_draw(study: Study, backend: Backend, model: str, store: Store,
                 fresh: bool, draw: int | None = None) -> tuple[int, bool]:
    """(draw, whether the store may hold rows of it): ``draw`` when given; else the latest
    draw with stored rows (or 0); with ``fresh``, the draw after the latest one with stored
    rows (see :func:`~beliefreg.simulation.planning.choose_draw`)."""
    if draw is not None:
        return draw, True
    if fresh and store.path is None:
        raise StudyError(
            "fresh=True needs a store: without one nothing records which draws were used, so "
            "'fresh' cannot pick a new one. Pass draw=N (--draw N) to choose the draw yourself")
    return choose_draw(study, backend, model, store, fresh)


def _open_store(store: Any) -> tuple[Store, bool]:
    if isinstance(store, Store):
        return store, False
    if store is DEFAULT_STORE:
        return Store(default_store_path()), True
    return Store(store), True


def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also from inside a running event loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="beliefreg-simulate")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _estimate(study: Study, backend: Backend, model: str, the_scan: PlanScan) -> CostEstimate:
    n_in = the_scan.pending_input_tokens
    n_out = study.max_tokens * len(the_scan.pending)
    price = backend.price(model)
    cost = math.nan if price is None else price.cost(n_in, n_out)
    per_request = backend.seconds_per_request(study)
    return CostEstimate(n_requests=the_scan.n_requests, n_cached=the_scan.n_cached,
                        n_to_send=len(the_scan.pending), input_tokens=n_in, output_tokens=n_out,
                        cost_usd=cost, price=price, model=model, backend=backend.name,
                        paid=bool(backend.paid),
                        seconds=None if per_request is None
                        else per_request * len(the_scan.pending))


@dataclass
class PreparedRun:
    """A planned study: its backend, store, plan scan and cost estimate, ready to run.

    Made by :func:`prepare` (one streaming pass over the design); :func:`run_prepared` sends
    what is pending and returns the panel. The command line prints :attr:`estimate`, asks,
    then runs the same plan, so a study is planned once.
    """

    study: Study
    backend: Backend
    model: str
    store: Store
    owned: bool
    scan: PlanScan
    estimate: CostEstimate

    def close(self) -> None:
        if self.owned:
            self.store.close()
            self.owned = False

    def panel(self, *, unsaved: list[Record] = (), sent_keys: set[str] = frozenset(),
              sent: bool = False) -> pd.DataFrame:
        """The panel of the requests with a row, read chunk by chunk; ``unsaved`` records
        (answers the store could not take) stand in for missing rows; with ``sent``, the
        pending requests of the plan count as sent by this run (not ``cache_hit``)."""
        sent_pfx = self.scan.sent_prefixes() if sent else np.zeros(0, dtype=np.uint64)
        extra = {r.key: r for r in unsaved}
        frames = []
        for ch in iter_chunks(self.study, self.backend, self.model, draw=self.scan.draw):
            try:
                records = self.store.get_many(ch.keys, request=False)
            except StoreError:
                records = {}
            for k in ch.keys:
                if k in extra and (k not in records or not records[k].ok):
                    records[k] = extra[k]
            was_sent = np.isin(key_prefixes(ch.keys), sent_pfx)
            cached = {k for k, s in zip(ch.keys, was_sent, strict=True)
                      if not s and k not in sent_keys and k in records and records[k].ok
                      and k not in extra}
            frames.append(build_panel(self.study, ch.items, ch.keys, records,
                                      backend=self.backend, model=self.model, cached=cached))
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)


def _check_draw(draw: Any, fresh: bool) -> None:
    if draw is None:
        return
    if isinstance(draw, bool) or not isinstance(draw, int) or draw < 0:
        raise StudyError(f"draw must be a non-negative integer, got {draw!r}")
    if fresh:
        raise StudyError("give either fresh=True (a new draw) or draw=N (that draw), not both")


def prepare(study: Study, backend: str | Backend = "local", *, model: str | None = None,
            store: Any = DEFAULT_STORE, fresh: bool = False, draw: int | None = None,
            **backend_options: Any) -> PreparedRun:
    """Plan ``study`` (one streaming pass, see :mod:`.planning`) and estimate its cost.

    Parameters are those of :func:`simulate`. Pass the result to :func:`run_prepared`, or
    :meth:`PreparedRun.close` it, to release the store it opened.
    """
    if not isinstance(study, Study):
        raise TypeError(f"study must be a beliefreg.Study, got {type(study).__name__}")
    _check_draw(draw, fresh)
    be = get_backend(backend, **backend_options)
    model_name = be.resolve_model(model or study.model)
    st, owned = _open_store(store)
    try:
        the_draw, look_up = _choose_draw(study, be, model_name, st, fresh, draw)
        the_scan = scan(study, be, model_name, st, draw=the_draw, look_up=look_up)
    except BaseException:
        if owned:
            st.close()
        raise
    return PreparedRun(study=study, backend=be, model=model_name, store=st, owned=owned,
                       scan=the_scan, estimate=_estimate(study, be, model_name, the_scan))


def estimate_store(store: Any) -> Any:
    """The store an estimate reads: ``store``, or memory when its file does not exist yet (an
    estimate or a dry run creates no file; every request counts as to be sent)."""
    if store is not None and not isinstance(store, Store):
        path = default_store_path() if store is DEFAULT_STORE else Path(store)
        if not path.exists():
            return None
    return store


def estimate(study: Study, backend: str | Backend = "local", *, model: str | None = None,
             store: Any = DEFAULT_STORE, fresh: bool = False, draw: int | None = None,
             **backend_options: Any) -> CostEstimate:
    """What :func:`simulate` would send and roughly cost, without sending anything.

    Parameters are those of :func:`simulate`.

    A store file that does not exist yet is not created (the estimate counts every request as
    to be sent).

    Returns
    -------
    CostEstimate
    """
    prepared = prepare(study, backend, model=model, store=estimate_store(store), fresh=fresh,
                       draw=draw, **backend_options)
    prepared.close()
    return prepared.estimate


def _check_run_options(concurrency: Any, max_retries: Any, budget_usd: Any) -> None:
    """Refuse bad run options before anything is planned or sent, naming the field."""
    if concurrency is not None and (isinstance(concurrency, bool)
                                    or not isinstance(concurrency, int) or concurrency < 1):
        raise StudyError(f"concurrency must be a positive integer, got {concurrency!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise StudyError(f"max_retries must be a non-negative integer, got {max_retries!r}")
    if budget_usd is not None and not (isinstance(budget_usd, (int, float))
                                       and not isinstance(budget_usd, bool)
                                       and budget_usd >= 0 and math.isfinite(budget_usd)):
        raise StudyError(f"budget_usd must be a non-negative number, got {budget_usd!r}")


def _resume_hint(draw: int, store: Any = None) -> str:
    """What to do to resume: run draw ``draw`` again (nothing carries over without a file)."""
    if store is not None and getattr(store, "path", None) is None:
        return ("no store was used, so nothing carries over: running the study again sends "
                "every request again (give a store to resume)")
    if draw:
        return (f"run the same study again with draw={draw} (--draw {draw}) "
                "to resume")
    return "run the same study again to resume"


def _install_signal_handlers(control: RunControl) -> list[tuple[int, Any]]:
    """SIGINT and SIGTERM -> ``control`` (main thread only); returns what to restore."""
    if threading.current_thread() is not threading.main_thread():
        return []
    loop = asyncio.get_running_loop()
    installed: list[tuple[int, Any]] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if control.request_stop(name) > 1:
            print(f"beliefreg: {name} again: aborting; the requests in flight are lost",
                  file=sys.stderr, flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous = signal.getsignal(sig)
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError, ValueError, OSError):  # pragma: no cover
            continue
        installed.append((sig, previous))
    return installed


def _restore_signal_handlers(installed: list[tuple[int, Any]]) -> None:
    if not installed:
        return
    loop = asyncio.get_running_loop()
    for sig, previous in installed:
        loop.remove_signal_handler(sig)
        signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


def simulate(
    study: Study,
    backend: str | Backend = "local",
    *,
    model: str | None = None,
    store: str | Path | Store | None = DEFAULT_STORE,
    concurrency: int | None = None,
    fresh: bool = False,
    draw: int | None = None,
    progress: bool = True,
    max_retries: int = 6,
    budget_usd: float | None = None,
    retry: RetryPolicy | None = None,
    drain_s: float = 30.0,
    **backend_options: Any,
) -> pd.DataFrame:
    """Run a choice study on an LLM and return the choice/belief panel.

    Parameters
    ----------
    study : Study
        What to ask, under which conditions, how many runs.
    backend : {"local", "openai", "openai-batch"} or Backend
        ``"local"`` (default): the embedded Gemma 3 270M, offline, exact beliefs.
        ``"openai"``: OpenAI or any OpenAI-compatible server (pass ``base_url=``).
        ``"openai-batch"``: OpenAI's Batch API (half price, up to 24 hours; see
        :mod:`beliefreg.simulation.batch_runner`; needs a store on disk). Or a backend
        instance (:class:`~beliefreg.simulation.LocalBackend`,
        :class:`~beliefreg.simulation.OpenAIBackend`).
    model : str, optional
        Overrides ``study.model``. For ``"local"`` a path to a GGUF file.
    store : path, Store or None
        The SQLite store. Default ``$BELIEFREG_STORE`` or ``~/.cache/beliefreg/store.sqlite``.
        ``None`` keeps responses in memory only (nothing survives a crash). Several processes
        may share one store: requests are claimed before they are sent, so each is sent once.
    concurrency : int, optional
        Requests in flight, a positive integer (default 8 for ``"openai"``; the local backend
        runs one at a time).
    fresh : bool
        Start a new draw: the draw after the newest one in the store (new seeds, every request
        sent again); earlier draws stay in the store. Its number is printed, and ``draw=N``
        resumes it. Needs a store.
    draw : int, optional
        Run (or resume, or read) draw ``N`` exactly. Default: the newest draw in the store, 0
        when there is none.
    progress : bool
        Show a progress bar (done, cached, failed, running cost) and, before a paid run, the
        request count and cost estimate.
    max_retries : int
        Retries per request after the first attempt (only for errors that can pass: timeouts,
        connection errors, HTTP 429 and 5xx, malformed bodies).
    budget_usd : float, optional
        Refuse to start (:class:`~beliefreg.simulation.BudgetExceededError`) when the estimated
        cost of the requests to send exceeds this.
    retry : RetryPolicy, optional
        Backoff settings (``max_retries`` is taken from here when given).
    drain_s : float
        After SIGINT or SIGTERM, seconds to wait for the requests in flight (they are stored);
        a second signal aborts the wait.
    **backend_options
        Passed to the backend when ``backend`` is a name: ``base_url``, ``api``
        (``"chat"``/``"responses"``), ``timeout``, ``prices`` for ``"openai"``; ``n_threads``
        for ``"local"``.

    Returns
    -------
    pandas.DataFrame
        One row per request (conditions x runs) in design order; the schema is documented in
        README, "The panel" (design variables, ``condition_id``, ``run``, ``choice``,
        ``choice_valid``, ``belief_<alternative>``, ``covered_mass``, ``missing_mass``, pivot
        columns, ``raw_text``, token counts, ``cost_usd``, ``error``, ``cache_hit``, ...).

    Raises
    ------
    StudyError
        A bad option or design (raised before anything is sent; the message names the field).
    QuotaExceededError
        The provider's quota ran out; ``err.panel`` holds the rows obtained, the store all of
        them; running again sends only the rest.
    BudgetExceededError
        The estimate exceeds ``budget_usd`` (nothing was sent).
    LogprobsUnsupportedError
        The model does not return log-probabilities.
    BackendError
        The backend cannot run (missing package, authentication failed, model not found).
    StoreError
        The store cannot be opened or cannot take the answers (disk full, read-only, damaged);
        answers received but not stored are in ``err.emergency_path`` and ``err.panel``.
    SimulationInterrupted
        SIGINT or SIGTERM (a ``KeyboardInterrupt``): sending stopped, the requests in flight
        were awaited (at most ``drain_s``) and stored; ``err.panel`` holds the rows obtained.

    Warns
    -----
    BeliefSamplingWarning
        Temperature is not 1 or top_p is below 1.
    FailedRequestsWarning
        Some requests failed after retries: their rows have ``error`` set and NaN beliefs.
    DuplicateRequestWarning
        Two conditions render to the same request (they share responses).

    Examples
    --------
    >>> from beliefreg import Study, simulate
    >>> study = Study(prompt="Would you buy diapers for {price} cents? Answer {choices}.",
    ...               choices={"yes": ["Yes"], "no": ["No"]}, conditions={"price": [30, 40]},
    ...               runs=2, examples=[("Is the sky blue?", "Yes"), ("Is fire cold?", "No")])
    >>> panel = simulate(study, store=None, progress=False)  # doctest: +SKIP
    >>> panel[["price", "run", "choice", "belief_yes"]]  # doctest: +SKIP
    """
    _check_run_options(concurrency, retry.max_retries if retry else max_retries, budget_usd)
    prepared = prepare(study, backend, model=model, store=store, fresh=fresh, draw=draw,
                       **backend_options)
    return run_prepared(prepared, concurrency=concurrency, progress=progress,
                        max_retries=max_retries, budget_usd=budget_usd, retry=retry,
                        drain_s=drain_s)


def run_prepared(prepared: PreparedRun, *, concurrency: int | None = None,
                 progress: bool = True, max_retries: int = 6, budget_usd: float | None = None,
                 retry: RetryPolicy | None = None, drain_s: float = 30.0) -> pd.DataFrame:
    """Send the pending requests of a :class:`PreparedRun` and return the panel (the second
    half of :func:`simulate`, whose documentation applies; the store is closed afterwards if
    :func:`prepare` opened it). The garbage collector runs less often meanwhile
    (:func:`~beliefreg.simulation.collector.fewer_collections`)."""
    with fewer_collections():
        return _run_prepared(prepared, concurrency=concurrency, progress=progress,
                             max_retries=max_retries, budget_usd=budget_usd, retry=retry,
                             drain_s=drain_s)


def _run_prepared(prepared: PreparedRun, *, concurrency: int | None, progress: bool,
                  max_retries: int, budget_usd: float | None, retry: RetryPolicy | None,
                  drain_s: float) -> pd.DataFrame:
    try:
        _check_run_options(concurrency, retry.max_retries if retry else max_retries,
                           budget_usd)
    except BaseException:
        prepared.close()
        raise
    study, be, model_name, st = prepared.study, prepared.backend, prepared.model, prepared.store
    the_scan = prepared.scan
    if study.temperature != 1 or study.top_p < 1:
        warnings.warn(
            f"temperature={study.temperature:g}, top_p={study.top_p:g}: log-probabilities are "
            "reported before temperature scaling and truncation, so the belief no longer "
            "describes the distribution the choice is sampled from (use temperature=1, top_p=1)",
            BeliefSamplingWarning, stacklevel=4)
    policy = retry or RetryPolicy(max_retries=max_retries)
    n_keys = the_scan.n_unique
    n_pending = len(the_scan.pending)
    is_batch = bool(getattr(be, "batch", False))

    try:
        if the_scan.has_duplicates:
            warnings.warn(
                "some conditions render to identical requests (a design variable does not "
                "appear in the prompt?); they share the same stored responses",
                DuplicateRequestWarning, stacklevel=4)
        n_cached = the_scan.n_cached
        report = RunReport()
        if n_pending and st.read_only:
            raise StoreError(
                f"store {st.path}: {n_pending} requests still to send, but the store is "
                f"read-only ({st.read_only_reason}): their answers could not be kept. Nothing "
                "was sent; use a writable --store", path=st.path)
        if n_pending:
            be.check_ready()  # before the plan is printed or a bar opened: nothing is sent
            est = prepared.estimate
            if be.paid:
                message = f"beliefreg: {est}"
                log.info(message)
                if progress:
                    print(message, file=sys.stderr)
                if budget_usd is not None and not math.isnan(est.cost_usd) \
                        and est.cost_usd > budget_usd:
                    raise BudgetExceededError(
                        f"estimated cost ${est.cost_usd:,.4f} exceeds budget_usd="
                        f"{budget_usd:g}; nothing was sent", estimate=est)
            if the_scan.draw and progress:
                print(f"beliefreg: draw {the_scan.draw} (resume it with draw="
                      f"{the_scan.draw}, --draw {the_scan.draw})", file=sys.stderr)
            limit = int(concurrency or be.default_concurrency)
            if be.max_concurrency is not None:
                limit = min(limit, be.max_concurrency)
            tasks = (Task(key=key, payload=payload, run=item.run, draw=item.draw)
                     for item, payload, key in iter_tasks(study, be, model_name, the_scan))
            bar = Progress(n_keys, n_cached, enabled=progress and not is_batch,
                           desc=f"{be.name}/{model_name}")
            owner = new_owner()
            since = _now()

            def on_stop(rep: RunReport) -> None:
                print(f"beliefreg: {rep.signal_name or 'interrupt'} received: sending stopped; "
                      f"waiting up to {drain_s:g} s for the {rep.in_flight} requests in flight "
                      "(signal again to abort)", file=sys.stderr, flush=True)

            async def go() -> RunReport:
                control = RunControl()
                installed = _install_signal_handlers(control)
                try:
                    opening = asyncio.ensure_future(be.open(model_name, study, st))
                    aborting = asyncio.ensure_future(control.abort.wait())
                    await asyncio.wait({opening, aborting}, return_when=asyncio.FIRST_COMPLETED)
                    aborting.cancel()
                    if not opening.done():
                        opening.cancel()
                        await asyncio.gather(opening, return_exceptions=True)
                        rep = RunReport(n_tasks=n_pending, stopped="interrupted",
                                        signal_name=control.signal_name, aborted=True)
                        return rep
                    opening.result()
                    return await run_tasks(tasks, backend=be, model=model_name, store=st,
                                           concurrency=limit, policy=policy, progress=bar,
                                           control=control, owner=owner, since=since,
                                           drain_s=drain_s, on_stop=on_stop, n_tasks=n_pending)
                finally:
                    try:
                        await be.close()
                    finally:
                        _restore_signal_handlers(installed)

            try:
                if is_batch:
                    from .batch_runner import run_batches

                    report = run_batches(study, be, model_name, st, the_scan,  # type: ignore[arg-type]
                                         progress=progress)
                else:
                    report = _run_coroutine(go())
            except QuotaExceededError as exc:  # at the probe: nothing was sent
                bar.close()
                raise QuotaExceededError(
                    f"{exc}; nothing was sent ({n_pending} requests pending). "
                    f"{_resume_hint(the_scan.draw, st).capitalize()} once the quota allows.",
                    panel=prepared.panel(), n_pending=n_pending) from None
            except KeyboardInterrupt:  # no handler could be installed (not the main thread)
                bar.close()
                where = st.path or "memory"
                print(f"beliefreg: interrupted; responses received so far are stored in "
                      f"{where}: {_resume_hint(the_scan.draw, st)}", file=sys.stderr)
                raise
            bar.close()
            # cache_hit: not sent by this process (the interactive runner records what it
            # sent; a batch run counts every request of its plan as sent)
            panel = prepared.panel(unsaved=report.unsaved, sent_keys=report.sent_keys,
                                   sent=is_batch)
        else:
            if progress:  # everything is in the store: say so
                Progress(n_keys, n_cached, enabled=True, desc=f"{be.name}/{model_name}").close()
            panel = prepared.panel()
    finally:
        prepared.close()
    n_err = int(panel["error"].notna().sum())
    hint = _resume_hint(the_scan.draw, st)
    if report.stopped == "store":
        err = report.store_error
        kept = len(report.unsaved)
        where = (f"written to {report.emergency_path} (load with "
                 f"Store({str(st.path)!r}).import_file(...))" if report.emergency_path
                 else "kept in err.panel only")
        raise StoreError(
            f"{err}. Sending stopped; {kept} answers the store could not take are {where} and "
            f"in the panel; {report.n_not_sent} requests were not sent. Free the disk (or fix "
            f"the store) and {hint}.", path=st.path, emergency_path=report.emergency_path,
            panel=panel)
    if report.stopped == "interrupted":
        lost = " (aborted: the requests then in flight were lost)" if report.aborted else ""
        where = st.path or "memory"
        message = (f"beliefreg: interrupted by {report.signal_name or 'a signal'}; "
                   f"{report.n_ok + report.n_failed} responses of this run are stored in "
                   f"{where}{lost}, {report.n_not_sent} requests not sent: {hint}")
        print(message, file=sys.stderr, flush=True)
        raise SimulationInterrupted(message, signal_name=report.signal_name or "SIGINT",
                                    panel=panel, n_pending=report.n_not_sent,
                                    aborted=report.aborted)
    if report.stopped == "quota":
        raise QuotaExceededError(
            f"{be.name}/{model_name}: {report.stop_error.message if report.stop_error else ''}; "
            f"stopped with {len(panel)} of {the_scan.n_requests} requests done "
            f"({report.n_not_sent} not sent). The store keeps them: {hint} and "
            "send the rest.", panel=panel, n_pending=report.n_not_sent)
    if report.stopped == "fatal":
        raise BackendError(
            f"{be.name}/{model_name}: {report.stop_error.message if report.stop_error else ''}"
            f" (the run stopped; {report.n_not_sent} requests not sent)")
    n_released = getattr(report, "n_released", 0)
    if n_released:
        warnings.warn(
            f"{n_released} requests of cancelled batches did not run; running the study "
            "again submits them", FailedRequestsWarning, stacklevel=4)
    if n_err:
        sample = panel.loc[panel["error"].notna(), "error"].iloc[0]
        warnings.warn(
            f"{n_err} of {len(panel)} requests failed after retries (e.g. {sample!r}); their "
            "rows have `error` set and NaN beliefs. Running the study again retries them.",
            FailedRequestsWarning, stacklevel=4)
    return panel
