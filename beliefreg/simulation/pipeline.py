"""``simulate``: study -> requests -> store -> runner -> panel."""

from __future__ import annotations

import asyncio
import logging
import math
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
from .design import Item
from .errors import (
    BackendError,
    BeliefSamplingWarning,
    BudgetExceededError,
    DuplicateRequestWarning,
    FailedRequestsWarning,
    QuotaExceededError,
    StudyError,
)
from .panel import build_panel
from .planning import PlanScan, choose_draw, iter_chunks, iter_tasks, key_prefixes, scan
from .pricing import CostEstimate
from .progress import Progress
from .runner import RetryPolicy, RunReport, Task, run_tasks
from .store import Store
from .study import Study

__all__ = ["simulate", "estimate", "default_store_path", "plan", "prepare", "run_prepared",
           "PreparedRun"]

log = logging.getLogger("beliefreg.simulation")

T = TypeVar("T")


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
    """The requests of one draw of a study: items, payloads and store keys, aligned (a list
    form for small studies and tests; :mod:`.planning` streams them)."""

    draw: int
    items: list[Item]
    payloads: list[dict[str, Any]]
    keys: list[str]


def plan(study: Study, backend: Backend, model: str, *, draw: int = 0) -> Plan:
    """Items, payloads and store keys of ``study`` for one draw, as lists.

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
    return CostEstimate(n_requests=the_scan.n_requests, n_cached=the_scan.n_cached,
                        n_to_send=len(the_scan.pending), input_tokens=n_in, output_tokens=n_out,
                        cost_usd=cost, price=price, model=model, backend=backend.name,
                        paid=bool(backend.paid))


@dataclass
class PreparedRun:
    """A planned study: its backend, store, plan scan and cost estimate, ready to run.

    Made by :func:`prepare` (one streaming pass over the design); :meth:`run` sends what is
    pending and returns the panel. The command line prints :attr:`estimate`, asks, then runs
    the same plan, so a study is planned once.
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

    def panel(self) -> pd.DataFrame:
        """The panel of the requests that have a stored row, read chunk by chunk."""
        sent = self.scan.sent_prefixes()
        frames = []
        for ch in iter_chunks(self.study, self.backend, self.model, draw=self.scan.draw):
            records = self.store.get_many(ch.keys)
            was_sent = np.isin(key_prefixes(ch.keys), sent)
            cached = {k for k, s in zip(ch.keys, was_sent, strict=True)
                      if not s and k in records and records[k].ok}
            frames.append(build_panel(self.study, ch.items, ch.keys, records,
                                      backend=self.backend, model=self.model, cached=cached))
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)


def prepare(study: Study, backend: str | Backend = "local", *, model: str | None = None,
            store: Any = DEFAULT_STORE, fresh: bool = False,
            **backend_options: Any) -> PreparedRun:
    """Plan ``study`` (one streaming pass, see :mod:`.planning`) and estimate its cost.

    Parameters are those of :func:`simulate`. Close the result (or run it through
    :func:`simulate`'s code path) to release the store it opened.
    """
    if not isinstance(study, Study):
        raise TypeError(f"study must be a beliefreg.Study, got {type(study).__name__}")
    be = get_backend(backend, **backend_options)
    model_name = be.resolve_model(model or study.model)
    st, owned = _open_store(store)
    try:
        draw, look_up = choose_draw(study, be, model_name, st, fresh)
        the_scan = scan(study, be, model_name, st, draw=draw, look_up=look_up)
    except BaseException:
        if owned:
            st.close()
        raise
    return PreparedRun(study=study, backend=be, model=model_name, store=st, owned=owned,
                       scan=the_scan, estimate=_estimate(study, be, model_name, the_scan))


def estimate(study: Study, backend: str | Backend = "local", *, model: str | None = None,
             store: Any = DEFAULT_STORE, fresh: bool = False,
             **backend_options: Any) -> CostEstimate:
    """What :func:`simulate` would send and roughly cost, without sending anything.

    Parameters are those of :func:`simulate`.

    Returns
    -------
    CostEstimate
    """
    prepared = prepare(study, backend, model=model, store=store, fresh=fresh, **backend_options)
    prepared.close()
    return prepared.estimate


def simulate(
    study: Study,
    backend: str | Backend = "local",
    *,
    model: str | None = None,
    store: str | Path | Store | None = DEFAULT_STORE,
    concurrency: int | None = None,
    fresh: bool = False,
    progress: bool = True,
    max_retries: int = 6,
    budget_usd: float | None = None,
    retry: RetryPolicy | None = None,
    **backend_options: Any,
) -> pd.DataFrame:
    """Run a choice study on an LLM and return the choice/belief panel.

    Parameters
    ----------
    study : Study
        What to ask, under which conditions, how many runs.
    backend : {"local", "openai"} or Backend
        ``"local"`` (default): the embedded Gemma 3 270M, offline, exact beliefs.
        ``"openai"``: OpenAI or any OpenAI-compatible server (pass ``base_url=``). Or a backend
        instance (:class:`~beliefreg.simulation.LocalBackend`,
        :class:`~beliefreg.simulation.OpenAIBackend`).
    model : str, optional
        Overrides ``study.model``. For ``"local"`` a path to a GGUF file.
    store : path, Store or None
        The SQLite store. Default ``$BELIEFREG_STORE`` or ``~/.cache/beliefreg/store.sqlite``.
        ``None`` keeps responses in memory only (nothing survives a crash).
    concurrency : int, optional
        Requests in flight (default 8 for ``"openai"``; the local backend runs one at a time).
    fresh : bool
        Force new draws: every request is sent again under a new draw index (new seeds);
        earlier draws stay in the store. Later calls without ``fresh`` use the newest draw.
    progress : bool
        Show a progress bar (done, cached, failed, running cost) and, before a paid run, the
        request count and cost estimate.
    max_retries : int
        Retries per request after the first attempt.
    budget_usd : float, optional
        Refuse to start (:class:`~beliefreg.simulation.BudgetExceededError`) when the estimated
        cost of the requests to send exceeds this.
    retry : RetryPolicy, optional
        Backoff settings (``max_retries`` is taken from here when given).
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
    QuotaExceededError
        The provider's quota ran out; ``err.panel`` holds the rows obtained, the store all of
        them; running again sends only the rest.
    BudgetExceededError
        The estimate exceeds ``budget_usd`` (nothing was sent).
    LogprobsUnsupportedError
        The model does not return log-probabilities.
    BackendError
        The backend cannot run (missing package, authentication failed, model not found).

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
    prepared = prepare(study, backend, model=model, store=store, fresh=fresh,
                       **backend_options)
    return run_prepared(prepared, concurrency=concurrency, progress=progress,
                        max_retries=max_retries, budget_usd=budget_usd, retry=retry)


def run_prepared(prepared: PreparedRun, *, concurrency: int | None = None,
                 progress: bool = True, max_retries: int = 6, budget_usd: float | None = None,
                 retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Send the pending requests of a :class:`PreparedRun` and return the panel (the second
    half of :func:`simulate`; the store is closed afterwards if ``prepare`` opened it)."""
    policy = retry or RetryPolicy(max_retries=max_retries)
    study, be, model_name, st = prepared.study, prepared.backend, prepared.model, prepared.store
    if study.temperature != 1 or study.top_p < 1:
        warnings.warn(
            f"temperature={study.temperature:g}, top_p={study.top_p:g}: log-probabilities are "
            "reported before temperature scaling and truncation, so the belief no longer "
            "describes the distribution the choice is sampled from (use temperature=1, top_p=1)",
            BeliefSamplingWarning, stacklevel=3)
    the_scan = prepared.scan
    try:
        if the_scan.has_duplicates:
            warnings.warn(
                "some conditions render to identical requests (a design variable does not "
                "appear in the prompt?); they share the same stored responses",
                DuplicateRequestWarning, stacklevel=3)
        report = RunReport()
        n_pending = len(the_scan.pending)
        if n_pending:
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
            limit = int(concurrency or be.default_concurrency)
            if be.max_concurrency is not None:
                limit = min(limit, be.max_concurrency)
            tasks = (Task(key=key, payload=payload, run=item.run, draw=item.draw)
                     for item, payload, key in iter_tasks(study, be, model_name, the_scan))
            bar = Progress(the_scan.n_unique, the_scan.n_cached,
                           enabled=progress and not getattr(be, "batch", False),
                           desc=f"{be.name}/{model_name}")

            async def go() -> RunReport:
                try:
                    await be.open(model_name, study, st)
                    return await run_tasks(tasks, backend=be, model=model_name, store=st,
                                           concurrency=limit, policy=policy, progress=bar,
                                           n_tasks=n_pending)
                finally:
                    await be.close()

            try:
                if getattr(be, "batch", False):
                    from .batch_runner import run_batches

                    report = run_batches(study, be, model_name, st, the_scan,  # type: ignore[arg-type]
                                         progress=progress)
                else:
                    report = _run_coroutine(go())
            except KeyboardInterrupt:
                bar.close()
                where = st.path or "memory"
                print(f"beliefreg: interrupted; responses received so far are stored in "
                      f"{where}: run the same study again to resume", file=sys.stderr)
                raise
            bar.close()
        elif progress:  # everything is in the store: say so
            Progress(the_scan.n_unique, the_scan.n_cached, enabled=True,
                     desc=f"{be.name}/{model_name}").close()
        panel = prepared.panel()
    finally:
        prepared.close()
    n_err = int(panel["error"].notna().sum())
    if report.stopped == "quota":
        raise QuotaExceededError(
            f"{be.name}/{model_name}: {report.stop_error.message if report.stop_error else ''}; "
            f"stopped with {len(panel)} of {the_scan.n_requests} requests done "
            f"({report.n_not_sent} not sent). The store keeps them: run the study again to "
            "send the rest.", panel=panel, n_pending=report.n_not_sent)
    if report.stopped == "fatal":
        raise BackendError(
            f"{be.name}/{model_name}: {report.stop_error.message if report.stop_error else ''}"
            f" (the run stopped; {report.n_not_sent} requests not sent)")
    n_released = getattr(report, "n_released", 0)
    if n_released:
        warnings.warn(
            f"{n_released} requests of cancelled batches did not run; running the study "
            "again submits them", FailedRequestsWarning, stacklevel=3)
    if n_err:
        sample = panel.loc[panel["error"].notna(), "error"].iloc[0]
        warnings.warn(
            f"{n_err} of {len(panel)} requests failed after retries (e.g. {sample!r}); their "
            "rows have `error` set and NaN beliefs. Running the study again retries them.",
            FailedRequestsWarning, stacklevel=2)
    return panel
