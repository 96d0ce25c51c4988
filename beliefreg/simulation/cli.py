"""``beliefreg simulate STUDY.toml``: run a study and write the panel.

Options come from the command line, then from the study file's ``[simulate]`` table, then from
the defaults of :func:`beliefreg.simulate`; every option is checked before the first request.
Exit status: 0 when every request succeeded; 3 when some failed after retries (their rows are
written with ``error`` set) or when no row has a belief; 4 when the provider's quota ran out
(at the probe or later; the rows obtained are written; run again to finish); 5 when the store
could not take the answers (they are written to an emergency file and to ``--out``); 1 for
other errors; 130 on SIGINT or SIGTERM (the requests in flight are awaited and stored; a second
signal aborts).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path
from typing import Any

from .backends import BACKENDS

__all__ = ["register", "run", "register_batch", "run_batch"]


def register_batch(subparsers: Any) -> None:
    """Add the ``batch`` subcommand (status and cancellation of Batch API jobs)."""
    p = subparsers.add_parser(
        "batch", help="list or cancel the OpenAI Batch API jobs recorded in a store",
        description="Batch API jobs are recorded in the response store. `status` lists them; "
                    "`cancel` cancels every job not yet collected (submitted batches at the "
                    "API; a later `simulate` collects what they finished and submits the rest "
                    "again only if run again).")
    p.add_argument("action", choices=["status", "cancel"])
    p.add_argument("--store", help="SQLite store (default ~/.cache/beliefreg/store.sqlite)")
    p.set_defaults(func=run_batch)


def run_batch(args: argparse.Namespace) -> int:
    """Run the ``batch`` subcommand."""
    from .batch_runner import batch_status, cancel_jobs
    from .errors import SimulationError
    from .pipeline import default_store_path
    from .store import Store

    path = Path(args.store) if args.store else default_store_path()
    if not path.exists():
        print(f"beliefreg batch: no store at {path}", file=sys.stderr)
        return 1
    with Store(path) as store:
        try:
            if args.action == "status":
                jobs = batch_status(store)
                for j in jobs:
                    print(f"job {j.id}: {j.state} ({j.remote_status or '-'}), batch "
                          f"{j.batch_id or '-'}, {j.n_requests} requests, attempt {j.attempt}, "
                          f"{j.n_completed} completed, {j.n_failed} failed"
                          + (f"; {j.note}" if j.note else ""))
                if not jobs:
                    print("no batch jobs in this store")
                return 0
            done = cancel_jobs(store)
        except (SimulationError, OSError) as exc:
            print(f"beliefreg batch: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # an API error: say which
            print(f"beliefreg batch: cancel failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return 1
    for job, what in done:
        print(f"job {job.id} (batch {job.batch_id or '-'}): {what}")
    if not done:
        print("no open batch jobs")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="run a choice study on an LLM and write the choice/belief panel",
        description="Run the study described in a TOML file (see beliefreg.simulation.load_study) "
                    "and write one row per request. Responses are stored as they arrive; "
                    "running the same command again resumes.",
    )
    p.add_argument("study", type=Path, help="the study file (TOML)")
    p.add_argument("--backend", choices=list(BACKENDS),
                   help="default: local; openai-batch sends OpenAI Batch API files (half price, "
                        "up to 24 hours; resumable, cancel with `beliefreg batch cancel`)")
    p.add_argument("--model", help="model name, or a GGUF path for the local backend")
    p.add_argument("--base-url", dest="base_url",
                   help="an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api", choices=["chat", "responses"], help="OpenAI API (default chat)")
    p.add_argument("--out", type=Path, help="write the panel here (.parquet or .csv)")
    p.add_argument("--store", help="SQLite store (default ~/.cache/beliefreg/store.sqlite; none: memory only, as --no-store)")
    p.add_argument("--no-store", action="store_true", help="keep responses in memory only")
    p.add_argument("--concurrency", type=int, help="requests in flight (openai)")
    p.add_argument("--max-retries", dest="max_retries", type=int)
    p.add_argument("--timeout", type=float, help="seconds per request (openai)")
    p.add_argument("--threads", type=int, help="CPU threads (local)")
    p.add_argument("--budget", type=float, help="refuse to start above this estimated USD cost")
    p.add_argument("--poll-interval", dest="poll_interval", type=float,
                   help="seconds between batch status checks (openai-batch, default 30)")
    p.add_argument("--max-batch-requests", dest="max_batch_requests", type=int,
                   help="requests per batch file (openai-batch, default and maximum 50000)")
    p.add_argument("--max-batch-bytes", dest="max_batch_bytes", type=int,
                   help="bytes per batch file (openai-batch, default and maximum 200 MB)")
    p.add_argument("--fresh", action="store_true",
                   help="start a new draw (its number is printed; resume it with --draw N)")
    p.add_argument("--draw", type=int, help="run, resume or read draw N (default: the newest)")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="print the request count and cost estimate, send nothing")
    p.add_argument("--yes", "-y", action="store_true",
                   help="do not ask before a paid run (needed when not interactive)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from .study import SIMULATE_KEYS, read_toml

    # load_study has refused unknown keys
    table = read_toml(args.study).get("simulate", {}) or {}
    if "backend" in table and table["backend"] not in BACKENDS:
        raise SystemExit(f"beliefreg simulate: {args.study}: [simulate] backend "
                         f"{table['backend']!r} is not one of {list(BACKENDS)}")
    opts = dict(table)
    for name in SIMULATE_KEYS:
        value = getattr(args, name, None)
        if value is not None:
            opts[name] = value
    # paths in the file are relative to the file (as its conditions CSV is), not to the
    # folder the command runs in: a store found from anywhere is never paid for twice
    for name in ("out", "store"):
        value = table.get(name)
        if (value is not None and getattr(args, name, None) is None
                and str(value).lower() != "none" and not Path(value).expanduser().is_absolute()):
            opts[name] = args.study.parent / value
    return opts


def _check_out(out: Path) -> None:
    """Refuse an ``--out`` that could not be written, before anything is sent."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise SystemExit(f"beliefreg simulate: --out must end in .parquet or .csv, got {out} "
                         "(nothing was sent)")
    if suffix != ".csv":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise SystemExit("beliefreg simulate: writing Parquet needs pyarrow (pip install "
                             "'beliefreg[report]') or use a .csv path (nothing was sent)") from None
    if out.is_dir():
        raise SystemExit(f"beliefreg simulate: --out {out} is a directory (nothing was sent)")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SystemExit(f"beliefreg simulate: --out {out}: {parent} is not a directory "
                         "(nothing was sent)")


def _write(panel: Any, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        panel.to_csv(out, index=False)
    elif suffix in (".parquet", ".pq"):
        try:
            panel.to_parquet(out, index=False)
        except ImportError as exc:
            raise SystemExit(f"beliefreg simulate: writing Parquet needs pyarrow (pip install "
                             f"'beliefreg[report]') or use a .csv path: {exc}") from None
    else:
        raise SystemExit(f"beliefreg simulate: --out must end in .parquet or .csv, got {out}")


def _summary(panel: Any, alternatives: list[str]) -> str:
    n = len(panel)
    failed = int(panel["error"].notna().sum())
    cached = int(panel["cache_hit"].sum())
    lines = [f"{n} rows ({cached} from the store, {failed} failed)"]
    ok = panel[panel["error"].isna()]
    for a in alternatives:
        share = (ok["choice"] == a).mean() if len(ok) else math.nan
        lines.append(f"  {a}: choice share {share:.3f}, mean belief "
                     f"{ok[f'belief_{a}'].mean():.3f}")
    cost = panel["cost_usd"]
    if cost.notna().any():
        lines.append(f"  cost of these rows: ${cost.sum():,.4f}")
    return "\n".join(lines)


def _error(exc: BaseException) -> None:
    """Every error of the command reads ``beliefreg simulate: <ErrorType>: <message>``."""
    print(f"beliefreg simulate: {type(exc).__name__}: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the ``simulate`` subcommand."""
    from .errors import (
        QuotaExceededError,
        SimulationError,
        SimulationInterrupted,
        StoreError,
    )
    from .panel import recommended_rows
    from .pipeline import (
        DEFAULT_STORE,
        _check_run_options,
        estimate_store,
        prepare,
        run_prepared,
    )
    from .study import load_study

    try:
        study = load_study(args.study)
        opts = _options(args)
        _check_run_options(opts.get("concurrency"), opts.get("max_retries", 6),
                           opts.get("budget"))
        if opts.get("threads") is not None and (not isinstance(opts["threads"], int)
                                                or opts["threads"] < 1):
            raise SimulationError(f"threads must be a positive integer, got {opts['threads']!r}")
        if opts.get("timeout") is not None and not float(opts["timeout"]) > 0:
            raise SimulationError(f"timeout must be positive, got {opts['timeout']!r}")
        if opts.get("out") is not None:
            _check_out(Path(opts["out"]))
    except (SimulationError, OSError) as exc:
        _error(exc)
        return 1
    backend = opts.get("backend", "local")
    backend_options: dict[str, Any] = {}
    if backend == "openai":
        for name in ("base_url", "api", "timeout"):
            if opts.get(name) is not None:
                backend_options[name] = opts[name]
    elif backend == "openai-batch":
        for name in ("base_url", "timeout", "poll_interval", "max_batch_requests",
                     "max_batch_bytes"):
            if opts.get(name) is not None:
                backend_options[name] = opts[name]
    elif opts.get("threads") is not None:
        backend_options["n_threads"] = opts["threads"]
    # --store none means memory only, as for `beliefreg demo` (not a file called "none")
    no_store = args.no_store or str(opts.get("store") or "").lower() == "none"
    store: Any = None if no_store else opts.get("store")
    common: dict[str, Any] = dict(model=opts.get("model"), fresh=args.fresh,
                                  draw=args.draw, **backend_options)
    if store is not None or no_store:
        common["store"] = store
    if args.dry_run:  # a dry run creates no store file
        common["store"] = estimate_store(common.get("store", DEFAULT_STORE))
    prepared = None
    status = 0
    panel = None
    try:
        prepared = prepare(study, backend, **common)  # planned once, run below
        est = prepared.estimate
        if args.dry_run:
            print(est)
            return 0
        if est.paid and est.n_to_send > 0 and not args.yes and opts.get("budget") is None:
            print(f"beliefreg simulate: {est}", file=sys.stderr)
            if not sys.stdin.isatty():
                print("beliefreg simulate: a paid run needs --yes (or --budget) when not "
                      "interactive", file=sys.stderr)
                return 1
            answer = input("Proceed? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                return 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                panel = run_prepared(prepared, concurrency=opts.get("concurrency"),
                                     progress=args.progress,
                                     max_retries=opts.get("max_retries", 6),
                                     budget_usd=opts.get("budget"))
            except QuotaExceededError as exc:
                _error(exc)
                panel = exc.panel
                status = 4
            except StoreError as exc:
                _error(exc)
                if exc.panel is None:
                    return 1
                panel = exc.panel
                status = 5
            except SimulationInterrupted as exc:
                panel = exc.panel
                status = 130
        for w in caught:
            print(f"beliefreg simulate: {w.category.__name__}: {w.message}", file=sys.stderr)
    except SimulationError as exc:  # BudgetExceededError included
        _error(exc)
        return 1
    finally:
        if prepared is not None:
            prepared.close()
    if panel is None:
        return status or 1
    if status == 0 and panel["error"].notna().any():
        status = 3
    if status == 0 and len(panel) and not recommended_rows(panel).any():
        flags = panel["belief_flags"].fillna("").replace("", "none").value_counts()
        print(f"beliefreg simulate: no row has a usable belief (flags: "
              f"{dict(flags.items())}; see belief_reason)", file=sys.stderr)
        status = 3
    if opts.get("out") is not None:
        _write(panel, Path(opts["out"]))
        print(f"wrote {len(panel)} rows to {opts['out']}", file=sys.stderr)
    print(_summary(panel, study.alternatives))
    return status
