"""The report for any study the simulator ran: belief against choice, honestly read.

``beliefreg report PANEL`` (and :func:`report`) takes a panel from :func:`beliefreg.simulate`
(a Parquet or CSV file, or a DataFrame) and writes the analysis:

* two alternatives: :func:`analyse` — fractional logit of belief against logit of choice on
  the condition variables (any of them, ``formula=`` to choose), the price elasticity, the
  single-run SEs, the efficiency criterion (:mod:`beliefreg.report.efficiency`), a verdict that
  reads sign, size and significance, the covered mass and a price-blind check;
* three or more: :func:`analyse_shares` — multinomial fractional logit of the belief shares
  against the multinomial logit of choices, own and cross elasticities, the criterion per
  alternative.

The covariance is chosen from the design: clustered by condition when there are several runs per
condition (t(G-1) critical values in the verdict when the clusters are few).

``beliefreg demo`` is this report on the built-in study (:mod:`beliefreg.report.demo`).

Call ``beliefreg.report(panel, out, formula=..., study=...)``; its parameters, errors and
sources: ``help(beliefreg.report.report)``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis import BinaryAnalysis, DemandAnalysis, analyse, analysis_sample
from .design import PanelDesign, default_rhs, panel_design
from .efficiency import Criterion, Efficiency, efficiency, normal_runs_needed
from .shares import SharesAnalysis, analyse_shares
from .verdict import PriceBlind, PriceBlindProbe, Verdict, probe_next_token
from .writer import console_summary, write_report

__all__ = ["report", "read_panel", "analyse", "analyse_shares", "analysis_sample",
           "write_report", "BinaryAnalysis", "DemandAnalysis", "SharesAnalysis",
           "PanelDesign", "panel_design", "default_rhs", "efficiency", "Efficiency",
           "Criterion", "normal_runs_needed", "Verdict", "PriceBlind", "PriceBlindProbe",
           "probe_next_token", "register"]


def read_panel(path: str | Path) -> pd.DataFrame:
    """A panel written by the simulator or a report (``.parquet`` or ``.csv``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no panel file at {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise ValueError(f"the panel must be a .parquet or .csv file, got {path.name}")


def report(panel: pd.DataFrame | str | Path, out: str | Path | None = None, *,
           formula: str | None = None, price: str | None = "price",
           alternative: str | None = None, cov_type: str | None = None, n_boot: int = 1000,
           seed: int = 0, tolerance: float = 0.10, level: float = 0.95,
           study: Any = None, model: str | None = None,
           meta: dict[str, Any] | None = None) -> BinaryAnalysis | SharesAnalysis:
    """Analyse a simulator panel and (with ``out``) write the report folder.

    The panel is one row per request as :func:`beliefreg.simulate` writes it: the design
    variables first, then ``condition_id``, ``run``, ``choice`` and one ``belief_<alternative>``
    column per alternative (``covered_mass``, ``belief_flags`` and ``error`` are used when
    present). Two alternatives: a fractional logit of the belief (Bernoulli QMLE, Papke and
    Wooldridge 1996) against a logit of the sampled choice; three or more: a multinomial
    fractional logit of the belief shares against a multinomial logit of the choices. Standard
    errors are clustered by condition when conditions have several runs (t(G-1) critical values
    with fewer than 42 clusters). The efficiency criterion is the paper's (runs per condition
    within ±``tolerance`` of the all-choice target with probability ``level``; Sun and Zhang
    2025, arXiv 2512.23184), split into bias and variance.

    Parameters
    ----------
    panel : DataFrame or path
        The panel, or a .parquet/.csv file of it.
    out : path, optional
        The report folder; None: analyse only.
    formula : str, optional
        Right-hand side of the models (default: every condition variable; the price as
        ``np.log(price)``).
    price : str, optional
        The price variable (default ``'price'`` when the panel has it).
    alternative : str, optional
        Two alternatives: the one modelled (default ``'yes'`` or the first).
    cov_type : str, optional
        Default chosen from the design.
    n_boot, seed, tolerance, level
        The efficiency criterion.
    study : Study or path, optional
        The study (or its TOML file) that produced a panel of the local backend: the report
        then adds the direct price-blind check, the model's next-token distribution at the
        lowest and the highest price (:func:`probe_next_token`), which needs the prompt.
    model : str, optional
        With ``study``: the GGUF file the panel was simulated with (default the embedded
        model).
    meta : dict, optional
        Shown in the summary (``title``, ``command``, ``model``, ...).

    Returns
    -------
    BinaryAnalysis or SharesAnalysis

    Raises
    ------
    FileNotFoundError
        The panel file is missing.
    ValueError
        The panel file is not .parquet/.csv; ``formula`` names a column the panel lacks or does
        not parse (nothing is fitted; the message lists the condition and sampled variables);
        with ``study``: the panel is not from the local backend, was simulated with another
        model, is not a panel of this study (its request keys are not the study's), or has
        three or more alternatives (the direct check reads two).
    DataError
        The panel lacks a column the analysis needs, a design value is missing, or the price
        holds values that are not numbers (the column and rows are named).
    """
    from .. import __version__

    if not isinstance(panel, pd.DataFrame):
        panel = read_panel(panel)
    design = panel_design(panel, price=price if price in panel.columns else None)
    common = dict(formula=formula, price=price, cov_type=cov_type, n_boot=n_boot, seed=seed,
                  tolerance=tolerance, level=level)
    probe = None
    if study is not None:
        if not design.binary:
            raise ValueError("the direct price-blind check (study=) compares two alternatives; "
                             "this panel has three or more")
        probe = _probe(panel, study, model, price or "price")
    if design.binary:
        analysis: Any = analyse(panel, alternative=alternative, probe=probe, **common)
    else:
        analysis = analyse_shares(panel, **common)
    if out is not None:
        info = {"version": __version__, "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
                "model": ", ".join(map(str, panel["model"].dropna().unique()))
                if "model" in panel else "",
                "backend": ", ".join(map(str, panel["backend"].dropna().unique()))
                if "backend" in panel else ""}
        info.update(meta or {})
        if design.binary:
            write_report(analysis, out, info)
        else:
            from .shares_writer import write_shares_report

            write_shares_report(analysis, out, info)
    return analysis


def _probe(panel: pd.DataFrame, study: Any, model: str | None, price: str) -> PriceBlindProbe:
    """The direct check for a panel of the local backend, after checking that it is one."""
    from ..simulation import load_study
    from ..simulation.backends.local import LocalBackend

    backends = set(map(str, panel["backend"].dropna().unique())) if "backend" in panel else set()
    if backends != {"local"}:
        raise ValueError("the direct price-blind check re-runs the prompt on the local model; "
                         f"this panel came from backend {sorted(backends) or 'unknown'}")
    if not hasattr(study, "prompt"):
        study = load_study(study)
    backend = LocalBackend(model)
    name = backend.resolve_model(model)
    models = set(map(str, panel["model"].dropna().unique())) if "model" in panel else set()
    if models and models != {name}:
        raise ValueError(f"the panel was simulated with model {sorted(models)}, the direct "
                         f"check would run {name!r}: pass the panel's model file (--model)")
    if "request_key" in panel and "draw" in panel:
        # the study must be the one the panel came from: its requests have the panel's keys
        from ..simulation.pipeline import plan

        have = set(map(str, panel["request_key"].dropna()))
        planned: set[str] = set()
        for d in sorted({int(x) for x in panel["draw"].dropna().unique()}):
            planned.update(plan(study, backend, name, draw=d).keys)
        foreign = have - planned
        if foreign:
            raise ValueError(
                f"the study does not reproduce this panel: {len(foreign)} of {len(have)} of "
                "the panel's requests are not requests of the study (its prompt, conditions, "
                "sampled values, runs, seed or layout differ); pass the study file the panel "
                "was simulated from")
    return probe_next_token(study, model=model, price=price)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report", help="the belief-vs-choice report for a panel you simulated",
        description="Analyse a panel written by beliefreg (simulate or a report's panel.parquet "
                    "/ panel.csv): belief and choice models on the condition variables, "
                    "elasticities, the efficiency criterion, a verdict and a price-blind check; "
                    "write a report folder.")
    p.add_argument("panel", type=Path, help="panel file (.parquet or .csv)")
    p.add_argument("--out", type=Path, default=Path("beliefreg-report"),
                   help="report folder (default beliefreg-report/)")
    p.add_argument("--formula", help="right-hand side of the belief and choice models, e.g. "
                                     "'np.log(price) + C(organic)' (default: every condition "
                                     "variable)")
    p.add_argument("--price", default="price", help="the price variable (default price)")
    p.add_argument("--alternative", help="two alternatives: the one modelled (default yes)")
    p.add_argument("--cov-type", dest="cov_type", choices=["cluster", "HC0", "HC1"],
                   help="covariance (default chosen from the design)")
    p.add_argument("--n-boot", dest="n_boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--study", type=Path,
                   help="the study's TOML file (local backend): adds the direct price-blind "
                        "check of the model's next-token distribution")
    p.add_argument("--model", help="with --study: the GGUF file the panel was simulated with")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..exceptions import DataError
    from ..simulation.errors import StudyError

    started = time.perf_counter()
    # the command as typed (beliefreg.cli.main keeps it)
    command = "beliefreg " + shlex.join(getattr(args, "argv", None) or ["report", str(args.panel)])
    try:
        a = report(args.panel, args.out, formula=args.formula, price=args.price,
                   alternative=args.alternative, cov_type=args.cov_type, n_boot=args.n_boot,
                   seed=args.seed, study=args.study, model=args.model,
                   meta={"command": command, "timings": {}, "started": started})
    except (FileNotFoundError, ValueError, DataError, KeyError, StudyError) as exc:
        print(f"beliefreg report: {exc}", file=sys.stderr)
        return 1
    if isinstance(a, SharesAnalysis):
        from .shares_writer import shares_console

        print(shares_console(a, {}))
    else:
        print(console_summary(a, {}))
    print(f"\nReport: {Path(args.out).resolve()}/")
    return 0 if a.ok else 3


class _CallableModule(sys.modules[__name__].__class__):  # type: ignore[misc]
    """``beliefreg.report(panel, out, ...)`` calls :func:`report`; the package stays a package
    (``beliefreg.report.demo``, ``from beliefreg.report import analyse``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
