"""``beliefreg demo``: the report on the built-in study, the paper's demand question (arXiv
2512.23184).

Simulate a purchase question about Pampers diapers at 16 prices on a language model (by default
the embedded Gemma 3 270M, offline), estimate demand from model belief (fractional logit) and
from model choice (logit) on log price with SEs clustered by price, the price elasticity at the
mean price, the single-run SEs and the runs each measure needs; print the comparison and write a
report folder (panel, Markdown summary, CSV tables, PNG plots).

Pieces, usable on their own:

* :func:`demand_study` — the :class:`~beliefreg.Study` (prompt, prices, personas);
* :func:`~beliefreg.report.analyse` — the analysis of any two-alternative panel;
* :func:`~beliefreg.report.write_report` — the report folder;
* :func:`~beliefreg.report.probe_next_token` — the direct price-blind check (local backend).

``beliefreg demo`` is ``beliefreg report`` on this study, with the direct price-blind check of
the next-token distribution when the backend is local.

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
from .verdict import probe_next_token
from .study import DEFAULT_PRICES, demand_study, parse_prices
from .writer import REAL_MODEL_HELP, console_summary, write_report

__all__ = ["register", "run", "main", "demand_study", "analyse", "write_report",
           "DemandAnalysis", "DEFAULT_PRICES", "parse_prices", "DEFAULT_RUNS", "DEFAULT_OUT",
           "synthetic_panel", "synthetic_truth", "SYNTHETIC"]

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
        .replace("```", "") + "\nFurther studies: beliefreg demo calibration (PPI++ with the "
        "LLM and the real NaturalPark willingness-to-pay sample; beliefreg demo calibration "
        "--help).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                   help=f"runs per price (default {DEFAULT_RUNS})")
    p.add_argument("--prices", default="20:95:5",
                   help="cents per diaper: start:stop:step or a comma list (default 20:95:5, "
                        "16 prices)")
    p.add_argument("--backend", choices=["local", "openai", "synthetic"], default="local",
                   help="local (embedded model, default), openai (OpenAI or any "
                        "OpenAI-compatible server), or synthetic (a synthetic respondent with "
                        "a known downward demand, not a language model: the report next to "
                        "the truth)")
    p.add_argument("--model", help="model name (openai) or a GGUF path (local)")
    p.add_argument("--layout", choices=["completion", "chat"],
                   help="prompt layout: completion (few-shot Q:/A: text; the completions "
                        "endpoint on a server) or chat (default: the backend's choice)")
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
    if study.layout == "completion" or (backend == "local" and study.layout is None):
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
             f"--seed {args.seed}", f"--backend {args.backend}", f"--out {args.out}"]
    if args.model:
        parts.append(f"--model {args.model}")
    if args.base_url:
        parts.append(f"--base-url {args.base_url}")
    if not args.personas:
        parts.append("--no-personas")
    if getattr(args, "layout", None):
        parts.append(f"--layout {args.layout}")
    if args.n_boot != 1000:
        parts.append(f"--n-boot {args.n_boot}")
    return " ".join(parts)


def _study_lines(args: argparse.Namespace, prices: list, store: str, model: str) -> list[str]:
    lines = [f"- Model: `{model}` ({args.backend} backend), temperature 1, one generated token; "
             "the pivot is the first token. **Model belief** = the probability of Yes at the "
             "pivot, normalised over Yes and No (every case and leading-space variant); "
             "**model choice** = the sampled token.",
             f"- Prices (cents per diaper): {', '.join(f'{p:g}' for p in prices)}; {args.runs} "
             f"runs per price; seed {args.seed}; store `{store}`."]
    if args.personas:
        lines.append(
            "- **Personas.** With the pivot at the first generated token nothing is sampled "
            "before it, so the belief would be identical in every run. In the paper beliefs "
            "varied across runs because tokens were sampled before the pivot. Here each run "
            "draws a shopper persona (household x budget, 20 combinations) written into the "
            "question: a per-run latent state that moves the pivot distribution; given it, "
            "belief is exact and choice is a draw from it. `--no-personas` runs the degenerate "
            "version.")
    else:
        lines.append("- **No personas** (`--no-personas`): every run asks the same question, "
                     "so the belief is the same in every run; choice varies.")
    return lines


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
        if args.n_boot is not None and args.n_boot < 1:
            raise ValueError(f"--n-boot must be a positive integer, got {args.n_boot}")
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out} exists and is not a folder: the report is a folder "
                             "(nothing was sent)")
        if any(parent.exists() and not parent.is_dir() for parent in out.parents):
            raise ValueError(f"--out {out} is under a file: the report needs a folder there "
                             "(nothing was sent)")
        study = demand_study(prices, runs=args.runs, seed=args.seed, personas=args.personas,
                             model=args.model)
        if getattr(args, "layout", None):
            import dataclasses

            study = dataclasses.replace(study, layout=args.layout)
    except (ValueError, SimulationError) as exc:
        _say(f"beliefreg demo: {exc}")
        return 1
    if args.backend == "synthetic":
        return _run_synthetic(args, prices, started)
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

    probe = None
    if args.backend == "local":
        _say("beliefreg demo: price-blind check (next-token distribution at the lowest and the "
             "highest price)")
        try:
            probe = probe_next_token(study, model=args.model, n_threads=args.threads)
        except Exception as exc:  # noqa: BLE001 - a check; the report says it did not run
            _say(f"beliefreg demo: the price-blind check did not run: {exc}")
    _say("beliefreg demo: estimating (belief and choice models, elasticities, runs needed)")
    t0 = time.perf_counter()
    analysis = analyse(panel, n_boot=args.n_boot, seed=args.seed, probe=probe)
    timings["analysis"] = time.perf_counter() - t0
    if not analysis.ok:
        status = 3
    meta = {
        "title": "beliefreg demo: diaper demand from model belief and model choice",
        "plot_title": f"Diaper demand, {model_name}: belief vs choice (95% bands)",
        "study_lines": _study_lines(args, prices, store_label, model_name),
        "real_model_help": True,
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


#: The synthetic respondent of ``--backend synthetic``: demand Λ(10.6 - 2.8 log p), belief
#: variance m(1-m)/19 across runs (kappa = 18), choice a Bernoulli draw from the belief.
SYNTHETIC = {"intercept": 10.6, "slope": -2.8, "precision": 18.0}


def synthetic_panel(prices: list, runs: int, seed: int) -> Any:
    """The synthetic respondent's panel in the simulator's schema (see :data:`SYNTHETIC`)."""
    from ..efficiency import SyntheticRespondent

    r = SyntheticRespondent(SYNTHETIC["intercept"], SYNTHETIC["slope"],
                            precision=SYNTHETIC["precision"])
    panel = r.panel(prices, runs=runs, seed=seed)
    front = ["price", "condition_id", "run"]
    panel = panel[front + [c for c in panel.columns if c not in front]].copy()
    panel["choice_valid"] = True
    panel["covered_mass"] = 1.0
    panel["belief_flags"] = ""
    panel["error"] = None
    return panel


def synthetic_truth(prices: list, tolerance: float = 0.10, level: float = 0.95
                    ) -> dict[str, Any]:
    """Closed-form runs needed of the synthetic respondent (no bias; normal approximation)."""
    import numpy as np

    from ..efficiency import SyntheticRespondent
    from .efficiency import normal_runs_needed

    r = SyntheticRespondent(SYNTHETIC["intercept"], SYNTHETIC["slope"],
                            precision=SYNTHETIC["precision"])
    p = np.asarray(prices, dtype=float)
    m = r.demand(p)
    out: dict[str, Any] = {"coefficient": SYNTHETIC["slope"]}
    for measure, var in (("belief", r.belief_variance(p)), ("choice", r.choice_variance(p))):
        v1 = r.asymptotic_cov(p, measure)[1, 1]
        out[f"coefficient_{measure}"] = normal_runs_needed(
            v1, tolerance * abs(SYNTHETIC["slope"]), level=level)
        out[f"levels_{measure}"] = [normal_runs_needed(v, tolerance * mm, level=level)
                                    for v, mm in zip(var, m)]
        out[f"average_{measure}"] = normal_runs_needed(
            float(var.sum() / len(p) ** 2), tolerance * float(m.mean()), level=level)
    return out


def _run_synthetic(args: argparse.Namespace, prices: list, started: float) -> int:
    from .. import __version__

    panel = synthetic_panel(prices, args.runs, args.seed)
    analysis = analyse(panel, n_boot=args.n_boot, seed=args.seed)
    truth = synthetic_truth(prices, analysis.settings["tolerance"], analysis.settings["level"])
    truth_line = (f"Truth (closed form, normal approximation, no bias): coefficient of "
                  f"np.log(price) {SYNTHETIC['slope']}; runs needed for it: belief "
                  f"{truth['coefficient_belief']}, choice {truth['coefficient_choice']}; for the "
                  f"average demand: belief {truth['average_belief']}, choice "
                  f"{truth['average_choice']}; for the level at each price: belief "
                  f"{min(truth['levels_belief'])} to {max(truth['levels_belief'])}, choice "
                  f"{min(truth['levels_choice'])} to {max(truth['levels_choice'])}.")
    analysis.notes.insert(0, truth_line)
    meta = {"title": "beliefreg demo: a synthetic respondent with known demand (not an LLM)",
            "command": _command(args), "version": __version__,
            "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "model": "synthetic respondent", "backend": "synthetic",
            "study_lines": [f"- A synthetic respondent (not a language model): P(yes | p) = "
                            f"Λ({SYNTHETIC['intercept']} {SYNTHETIC['slope']:+} log p); each "
                            "run draws a belief from a Beta distribution around it (kappa "
                            f"{SYNTHETIC['precision']:g}) and the choice from the belief.",
                            f"- Prices {', '.join(f'{p:g}' for p in prices)}; {args.runs} runs "
                            f"per price; seed {args.seed}."],
            "timings": {}, "started": started}
    try:
        write_report(analysis, args.out, meta)
    except OSError as exc:
        _say(f"beliefreg demo: cannot write the report to {args.out}: {exc}")
    print(console_summary(analysis, meta))
    print(f"\nReport: {Path(args.out).resolve()}/")
    return 0 if analysis.ok else 3


def main(argv: list[str] | None = None) -> int:
    """``beliefreg demo [options]`` as a function (for tests and scripts)."""
    from ..cli import main as cli_main

    return cli_main(["demo", *(argv or [])])
