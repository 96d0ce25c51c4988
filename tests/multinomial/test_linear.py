"""The linearmodels bridge (share_inversion, linear_probability) against R and its errors.

``tests/reference/linear.json`` comes from ``tests/reference/linear.R``: lm / AER::ivreg with
the fixed effects as factor dummies, sandwich's vcovHC / vcovCL(type = "HC1"). beliefreg
absorbs the effects with linearmodels' PanelOLS and must report the same slope coefficients and
covariance blocks (k counts the absorbed effects).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import DataError

from .test_r_reference import assert_cov_close

REF = json.loads((Path(__file__).parents[1] / "reference" / "linear.json").read_text())
CASES = REF["cases"]
COVS = {"nonrobust": ("nonrobust", None), "HC0": ("HC0", None), "HC1": ("HC1", None),
        "cluster1": ("cluster", {"groups": "persona"}),
        "cluster2": ("cluster", {"groups": ["persona", "condition"]})}


def _fit(case, data, cov_type, cov_kwds):
    effects = case["effects"]
    if case["case"].startswith("inversion"):
        return br.share_inversion(case["formula"], data, groups="obs", alternatives="brand",
                                  outside="none", floor=case["floor"], effects=effects,
                                  cov_type=cov_type, cov_kwds=cov_kwds)
    return br.linear_probability(case["formula"], data, effects=effects, cov_type=cov_type,
                                 cov_kwds=cov_kwds)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["case"])
def test_every_covariance_matches_r(case, wide, long):
    data = long if case["data"] == "long" else wide
    names = case["names"]
    for key, (cov_type, cov_kwds) in COVS.items():
        res = _fit(case, data, cov_type, cov_kwds)
        assert res.nobs == case["n"]
        np.testing.assert_allclose(res.params[names], pd.Series(case["params"])[names],
                                   rtol=1e-9, err_msg=key)
        assert_cov_close(res.cov.loc[names, names].to_numpy(), case["cov"][key], err_msg=key)


def test_nested_effects_convention_is_documented_by_the_numbers(long):
    case = next(c for c in CASES if c["case"] == "inversion_effects")
    res = _fit(case, long, "cluster", {"groups": "persona"})
    se_nested = pd.Series(case["cluster1_se_if_persona_effects_not_counted"])
    # k = 43 with the 24 persona effects counted, 19 without: SEs sqrt(2381/2357) larger
    ratio = res.std_errors[se_nested.index] / se_nested
    np.testing.assert_allclose(ratio, np.sqrt((2400 - 19) / (2400 - 43)), rtol=1e-9)


def test_zero_shares_are_named_unless_floored(long):
    with pytest.raises(DataError, match=r"zero share\(s\) in .*rows \(first: .*floor="):
        br.share_inversion("belief ~ 1 + price", long, groups="obs", alternatives="brand",
                           outside="none", cov_kwds={"groups": "persona"})
    clean = long[~long.obs.isin(long.loc[long.belief == 0, "obs"])]
    res = br.share_inversion("belief ~ 1 + price + C(brand)", clean, groups="obs",
                             alternatives="brand", outside="none",
                             cov_kwds={"groups": "persona"})
    assert res.nobs == 3 * clean.obs.nunique()
    with pytest.raises(ValueError, match=r"floor must be in \(0, 1\)"):
        br.share_inversion("belief ~ 1 + price", long, groups="obs", alternatives="brand",
                           outside="none", floor=0.0, cov_kwds={"groups": "persona"})


def test_inversion_recovers_logit_utilities_exactly():
    rng = np.random.default_rng(5)
    g = 60
    d = pd.DataFrame({"obs": np.repeat(np.arange(g), 3), "brand": np.tile(["x", "y", "o"], g),
                      "price": rng.uniform(1, 2, 3 * g), "persona": np.repeat(np.arange(g) % 6, 3)})
    d.loc[d.brand == "o", "price"] = 0.0
    u = (-2.0 * d.price + d.brand.map({"x": 1.0, "y": 0.5, "o": 0.0})).to_numpy().reshape(g, 3)
    d["s"] = (np.exp(u) / np.exp(u).sum(axis=1, keepdims=True)).ravel()
    res = br.share_inversion("s ~ 1 + price + C(brand)", d, groups="obs", alternatives="brand",
                             outside="o", cov_type="HC1")
    np.testing.assert_allclose(res.params[["Intercept", "price", "C(brand)[T.y]"]],
                               [1.0, -2.0, -0.5], atol=1e-10)


def test_bad_input(long, wide):
    kw = dict(groups="obs", alternatives="brand", cov_kwds={"groups": "persona"}, floor=1e-3)
    with pytest.raises(ValueError, match="outside alternative 'nothing'"):
        br.share_inversion("belief ~ 1 + price", long, outside="nothing", **kw)
    # a situation may offer a subset of the alternatives, but its shares must sum to 1
    with pytest.raises(DataError, match=r"sum to 1 within each situation.*first groups \[3\]"):
        br.share_inversion("belief ~ 1 + price", long.drop(index=long.index[9]), outside="none",
                           **kw)
    no_outside = long.drop(index=long.index[(long.obs == 3) & (long.brand == "none")])
    with pytest.raises(DataError, match=r"1 situation\(s\) do not offer the outside "
                                        r"alternative 'none' \(first groups \[3\]\)"):
        br.share_inversion("belief ~ 1 + price", no_outside, outside="none", **kw)
    bad = long.copy()
    bad.loc[0, "belief"] += 0.2
    with pytest.raises(DataError, match=r"sum to 1 within each situation.*first groups \[1\]"):
        br.share_inversion("belief ~ 1 + price", bad, outside="none", **kw)
    with pytest.raises(ValueError, match="effects="):
        br.share_inversion("belief ~ 1 + price + EntityEffects", long, outside="none", **kw)
    with pytest.raises(ValueError, match="cannot absorb effects in an IV"):
        br.share_inversion("belief ~ 1 + [price ~ cost]", long, outside="none",
                           effects="persona", **kw)
    with pytest.raises(ValueError, match="needs cov_kwds"):
        br.linear_probability("s_pampers ~ 1 + income", wide)
    with pytest.raises(ValueError, match="HC3"):
        br.linear_probability("s_pampers ~ 1 + income", wide, cov_type="HC3")
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        br.linear_probability("income ~ 1 + price_luvs", wide, cov_type="HC1")


def test_messy_frames_for_the_share_inversion(long):
    # a pandas Categorical alternative kept the outside level after its rows were dropped:
    # linearmodels said "regressors [exog endog] do not have full column rank"; a polars frame
    # failed with "'DataFrame' object has no attribute 'index'"; a price of numbers written
    # as text gave the same rank error without naming the column
    kw = dict(groups="obs", alternatives="brand", outside="none", floor=1e-3,
              cov_kwds={"groups": "persona"})
    ref = br.share_inversion("belief ~ 1 + price + C(brand)", long, **kw)
    cat = br.share_inversion("belief ~ 1 + price + C(brand)",
                             long.assign(brand=long.brand.astype("category")), **kw)
    pd.testing.assert_series_equal(cat.params, ref.params)
    pl = pytest.importorskip("polars")
    polars = br.share_inversion("belief ~ 1 + price + C(brand)", pl.from_pandas(long), **kw)
    pd.testing.assert_series_equal(polars.params, ref.params)
    lpm = br.linear_probability("belief ~ 1 + price", pl.from_pandas(long), cov_type="HC1")
    pd.testing.assert_series_equal(
        lpm.params, br.linear_probability("belief ~ 1 + price", long, cov_type="HC1").params)
    text = long.assign(price=(long.price + np.arange(len(long)) * 1e-3).astype(str))
    with pytest.raises(DataError, match=r"the regressor 'price' .* holds numbers written as "
                                        r"text .* pd.to_numeric"):
        br.share_inversion("belief ~ 1 + price + C(brand)", text, **kw)
    with pytest.raises(br.RankDeficientError, match="full column rank"):
        br.linear_probability("belief ~ 1 + price + I(2 * price)", long, cov_type="HC1")
