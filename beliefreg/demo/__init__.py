"""``beliefreg demo``: the paper's demand study end to end (arXiv 2512.23184).

Simulate a purchase question about Pampers diapers at 16 prices on a language model (by default
the embedded Gemma 3 270M, offline), estimate demand from model belief (fractional logit) and
from model choice (logit) on log price with SEs clustered by price, the price elasticity at the
mean price, the single-run SEs and the runs each measure needs; print the comparison and write a
report folder (panel, Markdown summary, CSV tables, PNG plots).

Pieces, usable on their own:

* :func:`demand_study` — the :class:`~beliefreg.Study` (prompt, prices, personas);
* :func:`analyse` — the analysis of any panel with ``price``, ``choice`` and ``belief_yes``;
* :func:`write_report` — the report folder.

Exit status of the command: 0 when every step ran; 3 when the report was written but a step
failed or some requests failed (the report says which); 1 when nothing could be simulated
(e.g. the backend is not installed or refuses the request); 130 on Ctrl-C (the responses
received are in the store: run the same command again to resume).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from .analysis import DemandAnalysis, analyse
from .report import REAL_MODEL_HELP, console_summary, write_report
from .study import DEFAULT_PRICES, demand_study, parse_prices

__all__ = ["register", "run", "main", "demand_study", "analyse", "write_report",
           "DemandAnalysis", "DEFAULT_PRICES", "parse_prices", "DEFAULT_RUNS", "DEFAULT_OUT"]

#: Runs per price by default: 160 requests, about two minutes on a shared 2-core machine.
DEFAULT_RUNS = 10
#: The report folder by default (relative to the working directory).
DEFAULT_OUT = "beliefreg-report"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="the paper's demand study end to end: simulate, estimate, runs needed, report",
        description="Ask a language model whether it would buy Pampers diapers at 16 prices, "
                    "several runs each; estimate demand from model belief and from model "
                    "choice; compare them (clustered SEs, elasticity, runs needed); write a "
                    "report folder. Default: the embedded Gemma 3 270M, offline (a pipeline "
                    "check, not a credible consumer).",
        epilog="Run the same study on a real model:\n" + REAL_MODEL_HELP.replace("```sh\n", "")
        .replace("```", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                   help=f"runs per price (default {DEFAULT_RUNS})")
    p.add_argument("--prices", default="20:95:5",
                   help="cents per diaper: start:stop:step or a comma list (default 20:95:5, "
                        "16 prices)")
    p.add_argument("--backend", choices=["local", "openai"], default="local",
                   help="local (embedded model, default) or openai (OpenAI or any "
                        "OpenAI-compatible server)")
    p.add_argument("--model", help="model name (openai) or a GGUF path (local)")
    p.add_argument("--base-url", dest="base_url",
                   help="an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--out", type=Path, default=Path(DEFAULT_OUT),
                   help=f"report folder (default {DEFAULT_OUT}/)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds personas, sampled answers and resampling (default 0)")
    p.add_argument("--store",
                   help="SQLite store of responses (default ~/.cache/beliefreg/store.sqlite; "
                        "'none': memory only). Re-running reuses stored responses.")
    p.add_argument("--personas", action=argparse.BooleanOptionalAction, default=True,
                   help="draw a shopper persona per run so that beliefs vary across runs "
                        "(default on; see the report)")
    p.add_argument("--n-boot", dest="n_boot", type=int, default=1000,
                   help="resamples per R for the runs needed (default 1000)")
    p.add_argument("--threads", type=int, help="CPU threads of the local model")
    p.add_argument("--yes", "-y", action="store_true",
                   help="do not ask before a paid run (needed when not interactive)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar")
    p.set_defaults(func=run)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _example_prompt(study: Any, backend: str) -> str:
    from ..simulation.design import expand
    from ..simulation.layout import chat_messages, completion_prompt

    item = expand(study)[0]
    if backend == "local":
        return completion_prompt(item.system, item.examples, item.question)
    return "\n".join(f"[{m['role']}] {m['content']}"
                     for m in chat_messages(item.system, item.examples, item.question))


def _store_arg(value: str | None) -> tuple[dict[str, Any], str]:
    from ..simulation.pipeline import default_store_path

    if value is None:
        return {}, str(default_store_path())
    if value.lower() == "none":
        return {"store": None}, "memory (not kept)"
    return {"store": value}, value


def _command(args: argparse.Namespace) -> str:
    """The command with its effective settings (what to type to get the same report)."""
    parts = ["beliefreg demo", f"--runs {args.runs}", f"--prices {args.prices}",
             f"--seed {args.seed}", f"--backend {args.backend}"]
    if args.model:
        parts.append(f"--model {args.model}")
    if args.base_url:
        parts.append(f"--base-url {args.base_url}")
    if not args.personas:
        parts.append("--no-personas")
    if args.n_boot != 1000:
        parts.append(f"--n-boot {args.n_boot}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Run the ``demo`` subcommand; returns the exit status."""
    from .. import __version__
    from ..simulation import estimate, simulate
    from ..simulation.errors import QuotaExceededError, SimulationError

    started = time.perf_counter()
    try:
        prices = parse_prices(args.prices)
        if args.runs < 2:
            raise ValueError("--runs must be at least 2 (runs needed resamples runs per price)")
        study = demand_study(prices, runs=args.runs, seed=args.seed, personas=args.personas,
                             model=args.model)
    except (ValueError, SimulationError) as exc:
        _say(f"beliefreg demo: {exc}")
        return 1
    backend_options: dict[str, Any] = {}
    if args.backend == "openai" and args.base_url:
        backend_options["base_url"] = args.base_url
    if args.backend == "local" and args.threads:
        backend_options["n_threads"] = args.threads
    store_kw, store_label = _store_arg(args.store)
    common = dict(store_kw, **backend_options)
    status = 0
    timings: dict[str, float] = {}
    try:
        est = estimate(study, args.backend, **common)
        model_name = est.model
        if est.paid and est.n_to_send > 0 and not args.yes:
            _say(f"beliefreg: {est}")
            if not sys.stdin.isatty():
                _say("beliefreg demo: a paid run needs --yes when not interactive")
                return 1
            if input("Proceed? [y/N] ").strip().lower() not in ("y", "yes"):
                return 1
        _say(f"beliefreg demo: {study.n_requests} requests ({len(prices)} prices x {args.runs} "
             f"runs) on {args.backend}/{model_name}; {est.n_cached} already in the store "
             f"({store_label})")
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                panel = simulate(study, args.backend, progress=args.progress, **common)
            except QuotaExceededError as exc:
                _say(f"beliefreg demo: {exc}")
                panel, status = exc.panel, 3
        timings["simulation"] = time.perf_counter() - t0
        for w in caught:
            if w.category.__name__ in ("FailedRequestsWarning", "BeliefSamplingWarning"):
                _say(f"beliefreg demo: {w.category.__name__}: {w.message}")
    except SimulationError as exc:
        _say(f"beliefreg demo: {type(exc).__name__}: {exc}")
        return 1
    if panel["error"].notna().any():
        status = 3

    _say("beliefreg demo: estimating (belief and choice models, elasticities, runs needed)")
    t0 = time.perf_counter()
    analysis = analyse(panel, n_boot=args.n_boot, seed=args.seed)
    timings["analysis"] = time.perf_counter() - t0
    if not analysis.ok:
        status = 3
    meta = {
        "command": _command(args),
        "version": __version__,
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "model": model_name,
        "backend": args.backend if not args.base_url else f"{args.backend} ({args.base_url})",
        "embedded_model": args.backend == "local" and args.model is None,
        "prices": prices,
        "runs": args.runs,
        "seed": args.seed,
        "personas": args.personas,
        "store": store_label,
        "example_prompt": _example_prompt(study, args.backend),
        "timings": timings,
        "started": started,
    }
    try:
        written = write_report(analysis, args.out, meta)
    except OSError as exc:
        _say(f"beliefreg demo: cannot write the report to {args.out}: {exc}")
        print(console_summary(analysis, meta))
        return 3
    print(console_summary(analysis, meta))
    print(f"\nReport: {Path(args.out).resolve()}/ ({', '.join(p.name for p in written)})")
    print("Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return status


def main(argv: list[str] | None = None) -> int:
    """``beliefreg demo [options]`` as a function (for tests and scripts)."""
    from ..cli import main as cli_main

    return cli_main(["demo", *(argv or [])])
