"""The calibration demo: the real NaturalPark data, the analysis on an informative and on a
flat "LLM", and ``beliefreg demo calibration`` end to end on the embedded model."""

import numpy as np
import pandas as pd
import pytest

from beliefreg.calibration.demo import analyse_calibration
from beliefreg.calibration.naturalpark import BIDS, calibration_frames, load_naturalpark


@pytest.fixture(scope="module")
def people():
    return load_naturalpark()


def test_naturalpark_is_the_real_data(people):
    assert len(people) == 312
    assert sorted(people.bid.unique()) == list(BIDS)
    # first answers: the share saying yes falls with the bid (Nunes 2002)
    rate = people.groupby("bid").yes.mean()
    assert rate.iloc[0] > rate.iloc[-1]
    assert people[["age", "sex", "income"]].drop_duplicates().shape[0] == 58
    assert people.persona.str.startswith("a Portuguese").all()


def _panel(people, belief):
    conds = people[["age", "sex", "income", "persona"]].drop_duplicates().merge(
        pd.DataFrame({"bid": list(BIDS)}), how="cross")
    conds["belief_yes"] = belief(conds)
    conds["error"] = None
    return conds


def test_analysis_with_an_informative_and_a_flat_llm(people):
    rng = np.random.default_rng(0)
    # an informative "LLM": it knows each profile's yes-rate in the data, shifted up (biased)
    rate = people.groupby(["age", "sex", "income"]).yes.mean().rename("r").reset_index()

    def informative(c):
        m = c.merge(rate, on=["age", "sex", "income"], how="left")
        logit = np.log(np.clip(m.r, 0.05, 0.95) / (1 - np.clip(m.r, 0.05, 0.95)))
        return (1 / (1 + np.exp(-(logit + 0.5 - 0.6 * np.log(m.bid / 12))))).to_numpy()

    human, llm = calibration_frames(people, _panel(people, informative))
    assert len(human) == 312 and len(llm) == 312 * 4
    good = analyse_calibration(human, llm, sizes=(100,), reps=20, seed=1)
    ppi = good.coverage[good.coverage.method == "PPI++"].iloc[0]
    assert ppi.mean_lambda > 0.3 and ppi.width_ratio_slope < 1.0
    assert ppi.mean_effective_n > 100

    flat = analyse_calibration(*calibration_frames(
        people, _panel(people, lambda c: np.full(len(c), 0.6) + rng.normal(0, 1e-3, len(c)))),
        sizes=(100,), reps=20, seed=1)
    ppi = flat.coverage[flat.coverage.method == "PPI++"].iloc[0]
    assert ppi.mean_lambda < 0.2
    assert abs(ppi.width_ratio_slope - 1.0) < 0.05
    assert "Verdict: the embedded model's beliefs carry next to no information" in flat.verdict()
    # the under-coverage sentence quotes each method's own figure, as in the coverage table
    flat.coverage.loc[flat.coverage.method == "PPI++", "coverage_median_wtp"] = 0.79
    flat.coverage.loc[flat.coverage.method == "human only", "coverage_median_wtp"] = 0.82
    assert "(at n = 100: 82% human only, 79% PPI++)" in flat.verdict()
    # the benchmark is the plain logit on all 312
    import beliefreg as br
    ref = br.Logit.from_formula("yes ~ np.log(bid)", human).fit(
        cov_type="cluster", cov_kwds={"groups": "person"})
    np.testing.assert_allclose(flat.full_human.params, ref.params, rtol=1e-10)


@pytest.mark.slow
def test_cli_end_to_end_on_the_embedded_model(tmp_path, capsys):
    from beliefreg.cli import main

    out = tmp_path / "report"
    status = main(["demo", "calibration", "--reps", "3", "--sizes", "50,100", "--out", str(out),
                   "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "Repeated subsets" in printed and "Verdict" in printed
    for name in ("summary.md", "estimates.csv", "coverage.csv", "replications.csv",
                 "by_bid.csv", "llm_beliefs.csv", "calibration.png"):
        assert (out / name).exists(), name
    beliefs = pd.read_csv(out / "llm_beliefs.csv")
    assert len(beliefs) == 58 * 4 and beliefs.belief_yes.between(0, 1).all()
    cov = pd.read_csv(out / "coverage.csv")
    assert set(cov.method) == {"human only", "PPI++"} and (cov.reps == 3).all()
    assert "What the LLM was worth" in (out / "summary.md").read_text()


def test_cli_hook_routes_demo_calibration(capsys):
    from beliefreg.cli import main

    assert main(["demo", "calibration", "--sizes", "many"]) == 1
    assert "--sizes must be integers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["demo", "calibration", "--help"])
    assert exc.value.code == 0
    assert "NaturalPark" in capsys.readouterr().out
