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

import pandas as pd

from .backends import get_backend
from .backends.base import Backend
from .design import Item, expand
from .errors import (
    BackendError,
    BeliefSamplingWarning,
    BudgetExceededError,
    DuplicateRequestWarning,
    FailedRequestsWarning,
    QuotaExceededError,
    StudyError,
)
from .keys import stable_hash
from .panel import build_panel
from .pricing import CostEstimate, estimate_tokens
from .progress import Progress
from .runner import RetryPolicy, RunReport, Task, run_tasks
from .store import Store
from .study import Study

__all__ = ["simulate", "estimate", "default_store_path", "plan"]

log = logging.getLogger("beliefreg.simulation")

T = TypeVar("T")

#: Largest number of fresh draws looked for in a store.
_MAX_DRAWS = 10_000


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
    items = expand(study, draw=draw)
    identity = backend.identity(model)
    payloads = [backend.build_payload(it, study, model) for it in items]
    keys = [stable_hash({"identity": identity, "payload": p, "run": it.run, "draw": it.draw})
            for it, p in zip(items, payloads, strict=True)]
    return Plan(draw=draw, items=items, payloads=payloads, keys=keys)


def _choose_draw(study: Study, backend: Backend, model: str, store: Store,
                 fresh: bool) -> Plan:
    """The latest draw with stored rows (or 0); with ``fresh``, the next unused draw."""
    current = plan(study, backend, model, draw=0)
    if store.count_present(current.keys) == 0:
        return current
    for d in range(1, _MAX_DRAWS):
        nxt = plan(study, backend, model, draw=d)
        if store.count_present(nxt.keys) == 0:
            return nxt if fresh else current
        current = nxt
    raise StudyError(f"more than {_MAX_DRAWS} draws of this study in the store")


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


def _estimate(study: Study, backend: Backend, model: str, the_plan: Plan,
              n_cached: int, pending: list[int]) -> CostEstimate:
    n_in = 0
    for i in pending:
        payload = the_plan.payloads[i]
        n_msgs = len(payload.get("messages") or payload.get("input") or [None])
        n_in += estimate_tokens(backend.prompt_text(payload)) + 4 * n_msgs
    n_out = study.max_tokens * len(pending)
    price = backend.price(model)
    cost = math.nan if price is None else price.cost(n_in, n_out)
    return CostEstimate(n_requests=len(the_plan.keys), n_cached=n_cached,
                        n_to_send=len(pending), input_tokens=n_in, output_tokens=n_out,
                        cost_usd=cost, price=price, model=model, backend=backend.name,
                        paid=bool(backend.paid))


def _prepare(study: Study, backend: str | Backend, model: str | None, store: Any, fresh: bool,
             backend_options: dict[str, Any]) -> tuple[Backend, str, Store, bool, Plan,
                                                      dict[str, Any], list[int], set[str]]:
    if not isinstance(study, Study):
        raise TypeError(f"study must be a beliefreg.Study, got {type(study).__name__}")
    be = get_backend(backend, **backend_options)
    model_name = be.resolve_model(model or study.model)
    st, owned = _open_store(store)
    try:
        the_plan = _choose_draw(study, be, model_name, st, fresh)
        records = st.get_many(the_plan.keys)
    except BaseException:
        if owned:
            st.close()
        raise
    cached = {k for k, r in records.items() if r.ok}
    pending: list[int] = []
    seen: set[str] = set()
    for i, k in enumerate(the_plan.keys):
        if k not in cached and k not in seen:
            pending.append(i)
            seen.add(k)
    return be, model_name, st, owned, the_plan, records, pending, cached


def estimate(study: Study, backend: str | Backend = "local", *, model: str | None = None,
             store: Any = DEFAULT_STORE, fresh: bool = False,
             **backend_options: Any) -> CostEstimate:
    """What :func:`simulate` would send and roughly cost, without sending anything.

    Parameters are those of :func:`simulate`.

    Returns
    -------
    CostEstimate
    """
    be, model_name, st, owned, the_plan, records, pending, cached = _prepare(
        study, backend, model, store, fresh, backend_options)
    try:
        n_cached = len(set(the_plan.keys) & cached)
        return _estimate(study, be, model_name, the_plan, n_cached, pending)
    finally:
        if owned:
            st.close()


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
    if study.temperature != 1 or study.top_p < 1:
        warnings.warn(
            f"temperature={study.temperature:g}, top_p={study.top_p:g}: log-probabilities are "
            "reported before temperature scaling and truncation, so the belief no longer "
            "describes the distribution the choice is sampled from (use temperature=1, top_p=1)",
            BeliefSamplingWarning, stacklevel=2)
    policy = retry or RetryPolicy(max_retries=max_retries)
    be, model_name, st, owned, the_plan, records, pending, cached = _prepare(
        study, backend, model, store, fresh, backend_options)
    try:
        if len(set(the_plan.keys)) < len(the_plan.keys):
            warnings.warn(
                "some conditions render to identical requests (a design variable does not "
                "appear in the prompt?); they share the same stored responses",
                DuplicateRequestWarning, stacklevel=2)
        n_cached = len(set(the_plan.keys) & cached)
        report = RunReport()
        if pending:
            est = _estimate(study, be, model_name, the_plan, n_cached, pending)
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
            tasks = [Task(key=the_plan.keys[i], payload=the_plan.payloads[i],
                          run=the_plan.items[i].run, draw=the_plan.draw) for i in pending]
            bar = Progress(len(set(the_plan.keys)), n_cached, enabled=progress,
                           desc=f"{be.name}/{model_name}")

            async def go() -> RunReport:
                try:
                    await be.open(model_name, study, st)
                    return await run_tasks(tasks, backend=be, model=model_name, store=st,
                                           concurrency=limit, policy=policy, progress=bar)
                finally:
                    await be.close()

            try:
                report = _run_coroutine(go())
            except KeyboardInterrupt:
                bar.close()
                where = st.path or "memory"
                print(f"beliefreg: interrupted; responses received so far are stored in "
                      f"{where}: run the same study again to resume", file=sys.stderr)
                raise
            bar.close()
            records = st.get_many(the_plan.keys)
        elif progress:  # everything is in the store: say so
            Progress(len(set(the_plan.keys)), n_cached, enabled=True,
                     desc=f"{be.name}/{model_name}").close()
        panel = build_panel(study, the_plan.items, the_plan.keys, records, backend=be,
                            model=model_name, cached=cached)
    finally:
        if owned:
            st.close()
    n_err = int(panel["error"].notna().sum())
    if report.stopped == "quota":
        raise QuotaExceededError(
            f"{be.name}/{model_name}: {report.stop_error.message if report.stop_error else ''}; "
            f"stopped with {len(panel)} of {len(the_plan.keys)} requests done "
            f"({report.n_not_sent} not sent). The store keeps them: run the study again to "
            "send the rest.", panel=panel, n_pending=report.n_not_sent)
    if report.stopped == "fatal":
        raise BackendError(
            f"{be.name}/{model_name}: {report.stop_error.message if report.stop_error else ''}"
            f" (the run stopped; {report.n_not_sent} requests not sent)")
    if n_err:
        sample = panel.loc[panel["error"].notna(), "error"].iloc[0]
        warnings.warn(
            f"{n_err} of {len(panel)} requests failed after retries (e.g. {sample!r}); their "
            "rows have `error` set and NaN beliefs. Running the study again retries them.",
            FailedRequestsWarning, stacklevel=2)
    return panel
