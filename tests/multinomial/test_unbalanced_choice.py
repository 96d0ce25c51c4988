"""ConditionalLogit with unbalanced choice sets (issue 12, item 5) against R.

Reference: tests/reference/clogit_unbalanced.R -> clogit_unbalanced.json (survival::clogit
for 0/1 choices; a hand-written QMLE for belief shares, itself checked against clogit on the
choices; counterfactual predictions and elasticities with delta-method SEs). statsmodels'
ConditionalLogit is a second, peer reference for the choices.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import DataError, MissingValueWarning

REF_DIR = Path(__file__).parents[1] / "reference"
R_ORDER = ["price", "promo", "C(brand)[T.b]", "C(brand)[T.c]", "C(brand)[T.none]"]
FORMULA = "price + promo + C(brand)"


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF_DIR / "data" / "unbalanced_choice.csv")


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF_DIR / "clogit_unbalanced.json").read_text())


def _fit(data, outcome, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", br.exceptions.SeparationWarning)  # cells not offered
        return br.ConditionalLogit.from_formula(f"{outcome} ~ {FORMULA}", data, groups="obs",
                                                alternatives="brand").fit(**kw)


def _cov(res):
    return res.cov_params().loc[R_ORDER, R_ORDER].to_numpy()


def test_the_data_are_unbalanced(data):
    sizes = data.groupby("obs").size()
    assert set(sizes) == {2, 3, 4}


def test_choices_match_survival_clogit(data, ref):
    r = ref["choice"]
    res = _fit(data, "choice", cov_type="nonrobust")
    np.testing.assert_allclose(res.params[R_ORDER].to_numpy(), r["params"], rtol=1e-8)
    np.testing.assert_allclose(_cov(res), r["cov_nonrobust"], rtol=1e-7, atol=1e-12)
    assert res.quasi_llf == pytest.approx(r["loglik"], rel=1e-10)
    hc0 = _fit(data, "choice", cov_type="HC0")
    np.testing.assert_allclose(_cov(hc0), r["cov_hc0"], rtol=1e-7, atol=1e-12)
    assert res.nobs == 400 and res.n_rows == 1251


def test_choices_match_statsmodels_conditional_logit(data):
    from statsmodels.discrete.conditional_models import ConditionalLogit as SMCL

    x = pd.get_dummies(data.brand, drop_first=True, dtype=float).add_prefix("b_")
    exog = pd.concat([data[["price", "promo"]], x], axis=1)
    sm = SMCL(data.choice, exog, groups=data.obs).fit(method="newton", disp=False, tol=1e-12)
    res = _fit(data, "choice", cov_type="nonrobust")
    np.testing.assert_allclose(res.params[R_ORDER].to_numpy(), sm.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(res.bse[R_ORDER].to_numpy(), sm.bse.to_numpy(), rtol=1e-5)


def test_belief_shares_match_the_hand_written_qmle(data, ref):
    r = ref["belief"]
    res = _fit(data, "belief")
    np.testing.assert_allclose(res.params[R_ORDER].to_numpy(), r["params"], rtol=1e-9)
    np.testing.assert_allclose(_cov(res), r["cov_hc0"], rtol=1e-7, atol=1e-13)
    assert res.quasi_llf == pytest.approx(r["quasi_llf"], rel=1e-11)
    cl = _fit(data, "belief", cov_type="cluster", cov_kwds={"groups": "persona"})
    np.testing.assert_allclose(_cov(cl), r["cov_cluster_persona"], rtol=1e-7, atol=1e-13)


def test_counterfactual_choice_set_without_an_alternative(data, ref):
    """'What if brand a leaves the shelf': predictions with delta-method SEs."""
    r = ref["counterfactual_without_a"]
    res = _fit(data, "belief")
    cf = data.loc[data.brand != "a"]
    frame = res.get_prediction(cf).summary_frame()
    assert isinstance(frame.index, pd.MultiIndex) and len(frame) == len(cf)
    rows = r["rows"]
    keys = list(zip(rows["obs"], rows["brand"]))
    np.testing.assert_allclose(frame.loc[keys, "mean"].to_numpy(), rows["mean"], rtol=1e-9)
    np.testing.assert_allclose(frame.loc[keys, "mean_se"].to_numpy(), rows["se"], rtol=1e-7)
    avg = res.get_prediction(cf, average=True).summary_frame()
    assert list(avg.index) == r["average_alternatives"]
    np.testing.assert_allclose(avg["mean"].to_numpy(), r["average"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(avg["mean_se"].to_numpy(), r["average_se"], rtol=1e-7,
                               atol=1e-15)
    assert avg.loc["a", "mean"] == 0.0
    # predict agrees with get_prediction
    np.testing.assert_allclose(res.predict(cf).to_numpy(), frame["mean"].to_numpy(),
                               rtol=1e-13)


def test_elasticities_over_the_situations_offering_both(data, ref):
    r = ref["elasticity_price"]
    res = _fit(data, "belief")
    el = res.elasticities("price")
    assert list(el.rows) == r["alternatives"]
    np.testing.assert_allclose(el.estimate.to_numpy(), r["estimate"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(el.std_err.to_numpy(), r["std_err"], rtol=1e-5, atol=1e-10)


def test_groups_as_a_column_name_in_predict_and_get_prediction(data):
    res = _fit(data, "belief")
    new = data.iloc[:10]
    by_name = res.predict(new, groups="obs")
    by_array = res.predict(new, groups=new.obs.to_numpy())
    np.testing.assert_allclose(by_name.to_numpy(), by_array.to_numpy(), rtol=0)
    a = res.get_prediction(new, groups="obs").summary_frame()
    b = res.get_prediction(new, groups=new.obs.to_numpy()).summary_frame()
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(DataError, match="groups 'session' is not a column of newdata"):
        res.predict(new, groups="session")


def test_balanced_data_give_the_same_fit_as_before(long):
    """The masked likelihood reduces to the balanced one (the diapers R reference holds)."""
    res = br.ConditionalLogit.from_formula("belief ~ price + C(brand)", long, groups="obs",
                                           alternatives="brand").fit()
    assert res.model.structure.balanced


def test_rows_lost_to_missing_values_are_named(data):
    d = data.copy()
    d.loc[d.index[1], "price"] = np.nan   # situation 1 loses one of its four rows
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = br.ConditionalLogit.from_formula(f"belief ~ {FORMULA}", d.assign(
            belief=d.belief / d.groupby("obs").belief.transform(
                lambda s: s.where(d.price.loc[s.index].notna()).sum())),
            groups="obs", alternatives="brand")
    msgs = [str(w.message) for w in caught if issubclass(w.category, MissingValueWarning)]
    assert any("lost rows to missing values but kept others (first groups: [1])" in m
               for m in msgs)
    assert res.structure.available.sum() == 1250


def test_a_repeated_alternative_is_still_an_error(data):
    d = pd.concat([data, data.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="have an alternative twice"):
        _fit(d, "choice")


def test_dydx_is_the_mean_derivative_over_situations_offering_both(data):
    """Margins at unbalanced data against central differences of predict(): cell (m, l)
    averages d p_m / d price_l over the situations that offer both m and l."""
    res = _fit(data, "belief")
    m = res.margins("price")
    alts = res.alternatives
    h = 1e-6
    expected = np.full((4, 4), np.nan)
    for li, l in enumerate(alts):
        up, down = data.copy(), data.copy()
        rows = data.brand == l
        up.loc[rows, "price"] += h
        down.loc[rows, "price"] -= h
        deriv = (res.predict(up).to_numpy() - res.predict(down).to_numpy()) / (2 * h)
        frame = data.assign(d=deriv)
        offers_l = set(data.obs[rows])
        for mi, mm in enumerate(alts):
            cell = frame[(frame.brand == mm) & frame.obs.isin(offers_l)]
            expected[mi, li] = cell.d.mean()
    got = m["estimate"].to_numpy().reshape(4, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_effects_at_a_counterfactual_set_cover_the_alternatives_offered(data):
    res = _fit(data, "belief")
    cf = data.loc[data.brand != "a"]
    for matrix in (res.elasticities("price", at=cf),
                   res.elasticities("price", at=cf, aggregate=True),
                   res.diversion_ratios("price", at=cf)):
        assert list(matrix.rows) == ["b", "c", "none"]
        assert np.isfinite(matrix.estimate.to_numpy()).all()
    m = res.margins("price", at=cf)
    assert set(m.index.get_level_values(0)) == {"b", "c", "none"}
    # the diversion from b goes to the alternatives left: c and none
    div = res.diversion_ratios("price", at=cf).estimate
    assert div.loc["b"].drop("b").sum() == pytest.approx(1.0, abs=1e-12)


def test_effects_of_alternatives_never_offered_together_are_refused(data):
    res = _fit(data, "belief")
    at = pd.DataFrame({"obs": [1, 1, 2, 2], "brand": ["a", "none", "b", "none"],
                       "price": [1.5, 0.0, 2.0, 0.0], "promo": [0, 0, 1, 0]})
    with pytest.raises(DataError, match="no situation offers both 'a' and 'b'"):
        res.margins("price", at=at)
    agg = res.elasticities("price", at=at, aggregate=True)
    assert agg.estimate.loc["a", "b"] == 0.0


def test_share_situation_that_lost_a_row_is_named_as_such():
    rng = np.random.default_rng(0)
    n = 30
    long = pd.DataFrame({"sit": np.repeat(range(n), 3), "alt": ["a", "b", "c"] * n,
                         "price": rng.uniform(1, 2, 3 * n)})
    long["belief"] = rng.dirichlet(np.ones(3), n).ravel()
    long.loc[1, "price"] = np.nan  # situation 0 loses alternative b
    with pytest.warns(MissingValueWarning, match="shares left to sum to 1"):
        with pytest.raises(DataError, match=r"1 of them lost rows to missing values \(first: \[0\]\)"):
            br.ConditionalLogit.from_formula("belief ~ price", long, groups="sit",
                                             alternatives="alt").fit()
