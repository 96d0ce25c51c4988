"""Formula-aware margins: analytic Jacobians vs finite differences, transforms, at/by/weights,
discrete changes, the generic numerical path, statsmodels' get_margeff, and bad input."""

import copy
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import beliefreg as br
from beliefreg.inference.datagrid import UnknownVariableError, VariableMap, evaluation_frame
from beliefreg.inference.delta import numerical_jacobian
from beliefreg.inference.margins import generic_margins, index_margins

from .conftest import FORMULA

AT_SPECS = ["overall", "mean", {"price": [25.0, 40.0]}, "frame"]


def _at(spec, study):
    if spec == "frame":
        return study.iloc[::7].reset_index(drop=True)
    return spec


def _analytic(res, variables, kind, at, by=None, binary="change", params=None, frame=None):
    vmap = res._variable_map()
    if frame is None:
        frame = evaluation_frame(vmap, at, by=by, weights=res.model.weights)
    p = res.params if params is None else params
    return index_margins(res.model.link, p, res.cov_params().to_numpy(), vmap, frame,
                         variables, kind=kind, binary=binary)


@pytest.mark.parametrize("kind", ["dydx", "eyex", "dyex", "eydx"])
@pytest.mark.parametrize("at", AT_SPECS, ids=["overall", "mean", "dict", "frame"])
def test_analytic_jacobians_match_finite_differences(fitted, study, kind, at):
    at = _at(at, study)
    variables = ["price", "income", "organic"] + (["persona"] if kind == "dydx" else [])
    binary = "change" if kind == "dydx" else "derivative"
    frame = evaluation_frame(fitted._variable_map(), at)
    r = _analytic(fitted, variables, kind, at, binary=binary, frame=frame)
    b = fitted.params

    def value(x):  # the frame (and its cached design derivatives) does not depend on params
        return _analytic(fitted, variables, kind, at, binary=binary, frame=frame,
                         params=pd.Series(x, index=b.index)).estimate.to_numpy()

    num, _ = numerical_jacobian(value, b.to_numpy(), method="central",
                                scale=fitted.bse.to_numpy())
    np.testing.assert_allclose(r.jacobian.to_numpy(), num, rtol=2e-6,
                               atol=2e-7 * np.abs(num).max())


def test_by_groups_and_weights_jacobians(weighted):
    frame = evaluation_frame(weighted._variable_map(), "overall", by="persona",
                             weights=weighted.model.weights)
    r = _analytic(weighted, ["price", "organic", "persona"], "dydx", "overall", frame=frame)
    b = weighted.params

    def value(x):
        return _analytic(weighted, ["price", "organic", "persona"], "dydx", "overall",
                         frame=frame, params=pd.Series(x, index=b.index)).estimate.to_numpy()

    num, _ = numerical_jacobian(value, b.to_numpy(), method="central", scale=weighted.bse)
    np.testing.assert_allclose(r.jacobian.to_numpy(), num, rtol=2e-6,
                               atol=2e-7 * np.abs(num).max())


def test_derivative_passes_through_every_term(fitted, study):
    """d E[y] / d price = g(eta) (b_logp + b_int organic) / price: both terms that use price."""
    b = fitted.params
    x = fitted.model.exog
    eta = x @ b.to_numpy()
    slope = (b["np.log(price)"] + b["organic:np.log(price)"] * study["organic"]) / study["price"]
    ape = np.mean(fitted.model.link.pdf(eta) * slope)
    inc = np.mean(fitted.model.link.pdf(eta) * (b["income"] + 2 * b["I(income ** 2)"] *
                                                 study["income"]))
    got = fitted.margins(["price", "income"])
    np.testing.assert_allclose(got.loc["price", "estimate"], ape, rtol=1e-9)
    np.testing.assert_allclose(got.loc["income", "estimate"], inc, rtol=1e-9)
    # the elasticity of a logit in log price alone is b (1 - G)
    res = br.FractionalLogit.from_formula("belief ~ np.log(price)", study).fit()
    g = res.fittedvalues.to_numpy()
    np.testing.assert_allclose(res.elasticity("price").loc["price", "estimate"],
                               np.mean(res.params["np.log(price)"] * (1 - g)), rtol=1e-9)


def test_discrete_changes_against_base_level(fitted, study):
    got = fitted.margins(["persona", "organic"])
    assert list(got.index) == ["persona: retiree - parent", "persona: student - parent",
                               "organic: 1 - 0"]

    def mean_pred(**fixed):
        d = study.copy()
        for k, v in fixed.items():
            d[k] = v
        return fitted.predict(d).mean()

    np.testing.assert_allclose(got.loc["persona: student - parent", "estimate"],
                               mean_pred(persona="student") - mean_pred(persona="parent"),
                               rtol=1e-10)
    np.testing.assert_allclose(got.loc["organic: 1 - 0", "estimate"],
                               mean_pred(organic=1) - mean_pred(organic=0), rtol=1e-10)


@pytest.mark.parametrize("kind", ["dydx", "eyex"])
@pytest.mark.parametrize("at, by", [("overall", None), ("mean", None), ("overall", "persona"),
                                    ({"price": [25.0, 40.0]}, None)])
def test_generic_numerical_path_matches_analytic(fitted, kind, at, by):
    vmap = fitted._variable_map()
    frame = evaluation_frame(vmap, at, by=by, weights=fitted.model.weights)
    variables = ["price", "income"] + (["persona", "organic"] if kind == "dydx" else [])
    a = index_margins(fitted.model.link, fitted.params, fitted.cov_params().to_numpy(), vmap,
                      frame, variables, kind=kind)
    g = generic_margins(fitted._predict_exog, fitted.params, fitted.cov_params().to_numpy(),
                        vmap, frame, variables, kind=kind)
    assert list(a.estimate.index) == list(g.estimate.index)
    np.testing.assert_allclose(g.estimate, a.estimate, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(g.std_err, a.std_err, rtol=2e-4)  # nested differences


def test_generic_path_handles_several_outcomes(fitted):
    """A predict returning (n, J) (e.g. shares of J alternatives) gives one row per outcome."""
    vmap = fitted._variable_map()
    frame = evaluation_frame(vmap, "overall")

    def two(b, x):
        p = fitted.model.link.cdf(x @ b)
        return np.column_stack([p, 1 - p])

    r = generic_margins(two, fitted.params, fitted.cov_params().to_numpy(), vmap, frame,
                        ["price"], outcome_names=["buy", "not"])
    assert list(r.estimate.index) == [("price", "buy"), ("price", "not")]
    np.testing.assert_allclose(r.estimate.iloc[0], -r.estimate.iloc[1], rtol=1e-9)
    np.testing.assert_allclose(r.std_err.iloc[0], r.std_err.iloc[1], rtol=1e-4)


def test_weights_weight_the_averages(weighted, study):
    b = weighted.params
    eta = weighted.model.exog @ b.to_numpy()
    slope = (b["np.log(price)"] + b["organic:np.log(price)"] * study["organic"]) / study["price"]
    e = weighted.model.link.pdf(eta) * slope
    got = weighted.margins("price").loc["price", "estimate"]
    np.testing.assert_allclose(got, np.average(e, weights=study["w"]), rtol=1e-9)
    assert not np.isclose(got, e.mean(), rtol=1e-4)
    # at='mean' uses weighted means
    frame = evaluation_frame(weighted._variable_map(), "mean", weights=weighted.model.weights)
    np.testing.assert_allclose(frame.data["income"].iloc[0],
                               np.average(study["income"], weights=study["w"]), rtol=1e-12)


def test_at_mean_rebuilds_transforms_and_uses_modes(fitted, study):
    frame = evaluation_frame(fitted._variable_map(), "mean")
    row = pd.Series(frame.exog[0], index=fitted.params.index)
    assert row["I(income ** 2)"] == pytest.approx(study["income"].mean() ** 2, rel=1e-12)
    assert row["np.log(price)"] == pytest.approx(np.log(study["price"].mean()), rel=1e-12)
    assert frame.data["persona"].iloc[0] == study["persona"].mode().iloc[0]
    assert row["organic"] == pytest.approx(0.5)


def test_at_dict_and_by_equal_explicit_frames(study):
    res = br.FractionalLogit.from_formula(FORMULA, study).fit()
    by_dict = res.margins("income", at={"price": [25.0, 40.0]})
    for p in (25.0, 40.0):
        d = study.copy()
        d["price"] = p
        explicit = res.margins("income", at=d)
        np.testing.assert_allclose(by_dict.loc[("income", p)].to_numpy(),
                                   explicit.loc["income"].to_numpy(), rtol=1e-12)
    by_group = res.margins("price", by="persona")
    sub = study[study.persona == "student"]
    np.testing.assert_allclose(by_group.loc[("price", "student")].to_numpy(),
                               res.margins("price", at=sub).loc["price"].to_numpy(),
                               rtol=1e-12)
    # a list of by columns and an at-list together
    both = res.margins("price", at={"organic": [0, 1]}, by=["persona"])
    assert both.index.names == ["term", "organic", "persona"] and len(both) == 6


def test_binary_handling(fitted):
    change = fitted.margins("organic")
    deriv = fitted.margins("organic", binary="derivative")
    assert list(change.index) == ["organic: 1 - 0"] and list(deriv.index) == ["organic"]
    assert not np.isclose(change.iloc[0, 0], deriv.iloc[0, 0])


def test_array_model_matches_statsmodels(study):
    x = sm.add_constant(study[["price", "income", "organic"]].to_numpy(float))
    y = study["belief"].to_numpy()
    ours = br.FractionalLogit(y, x).fit(cov_type="HC0")
    theirs = sm.Logit(y, x).fit(disp=0, method="newton", tol=1e-14, cov_type="HC0")
    for at in ("overall", "mean"):
        for method in ("dydx", "eyex"):
            mg = theirs.get_margeff(at=at, method=method)
            got = ours.margins(kind=method, at=at, binary="derivative")
            np.testing.assert_allclose(got["estimate"], mg.margeff, rtol=1e-7)
            np.testing.assert_allclose(got["std_err"], mg.margeff_se, rtol=1e-6)
    dummy = theirs.get_margeff(at="overall", dummy=True)
    np.testing.assert_allclose(ours.margins("x4").iloc[0]["estimate"], dummy.margeff[2],
                               rtol=1e-7)
    np.testing.assert_allclose(ours.margins("x4").iloc[0]["std_err"], dummy.margeff_se[2],
                               rtol=1e-6)


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("method", ["dydx", "eyex"])
def test_formula_model_matches_statsmodels_get_margeff(at, method):
    """The plain 401(k) logit (HC0): every regressor continuous, as get_margeff(dummy=False);
    agesq is a plain column, so 'mean' agrees with statsmodels' column means."""
    from beliefreg.datasets import load_401k

    data = load_401k()
    data["agesq"] = data["age"] ** 2
    f = "prate01 ~ mrate + ltotemp + age + agesq + sole"
    ours = br.FractionalLogit.from_formula(f, data).fit(cov_type="HC0")
    x = sm.add_constant(data[["mrate", "ltotemp", "age", "agesq", "sole"]].to_numpy(float))
    theirs = sm.Logit(data["prate01"].to_numpy(), x).fit(disp=0, method="newton", tol=1e-14,
                                                         cov_type="HC0")
    mg = theirs.get_margeff(at=at, method=method)
    got = ours.margins(kind=method, at=at, binary="derivative")
    np.testing.assert_allclose(got["estimate"], mg.margeff, rtol=1e-7)
    np.testing.assert_allclose(got["std_err"], mg.margeff_se, rtol=1e-6)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, error, message", [
    (lambda r: r.margins("nope"), UnknownVariableError, "unknown variable 'nope'"),
    (lambda r: r.margins("w"), UnknownVariableError,
     "'w' is a column of the data but is not in the formula"),
    (lambda r: r.margins("np.log(price)"), UnknownVariableError,
     "margins are taken w.r.t. the raw variable 'price'"),
    (lambda r: r.margins("price", at={"prize": 3}), UnknownVariableError,
     "`at` names unknown variable(s) ['prize']"),
    (lambda r: r.margins("price", at={"persona": "teacher"}), ValueError,
     "not among its levels"),
    (lambda r: r.margins("price", at={}), ValueError, "the `at` dict is empty"),
    (lambda r: r.margins("price", at="median"), ValueError, "at must be 'overall', 'mean'"),
    (lambda r: r.margins("price", at=pd.DataFrame({"price": [30.0]})), br.DataError,
     "the `at` DataFrame is missing column(s) ['organic', 'income', 'persona']"),
    (lambda r: r.margins("price", by="region"), UnknownVariableError,
     "by='region' is not a column of the data"),
    (lambda r: r.margins("price", kind="elasticity"), ValueError, "kind must be one of"),
    (lambda r: r.margins("price", binary="dummy"), ValueError, "binary must be 'change'"),
    (lambda r: r.margins("persona", kind="eyex"), ValueError,
     "'persona' is categorical: its effect is a discrete change"),
    (lambda r: r.margins("organic", kind="eyex"), ValueError, "binary='derivative'"),
    (lambda r: r.get_prediction(pd.DataFrame({"price": [30.0]})), br.DataError,
     "newdata is missing column(s)"),
    (lambda r: r.get_prediction([[1, 2]]), TypeError, "newdata must be a pandas DataFrame"),
    (lambda r: r.elasticity("persona"), ValueError, "discrete change"),
])
def test_bad_input_errors_name_the_fault(fitted, call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(fitted)


def test_missing_values_in_newdata(fitted, study):
    bad = study.head(3).copy()
    bad.loc[bad.index[1], "income"] = np.nan
    with pytest.raises(br.DataError, match="missing values in rows"):
        fitted.get_prediction(bad)


def test_log_of_zero_in_at_is_reported(study):
    res = br.FractionalLogit.from_formula("belief ~ np.log(price)", study).fit()
    with np.errstate(all="ignore"), pytest.raises(br.DataError):
        res.margins("price", at={"price": 0.0})


def test_margins_on_the_choice_logit(study):
    res = br.Logit.from_formula("choice ~ np.log(price) + organic", study).fit()
    got = res.margins()
    assert list(got.columns) == ["estimate", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    assert got.loc["price", "estimate"] < 0


def test_variable_map_is_cached_and_results_are_copy_safe(fitted):
    assert fitted._variable_map() is fitted._variable_map()
    other = copy.copy(fitted)
    assert other.margins("price").equals(fitted.margins("price"))
    assert isinstance(VariableMap(fitted.model.design).variables, list)


def test_default_variables_depend_on_kind(fitted):
    assert list(fitted.margins().index) == ["price", "organic: 1 - 0", "income",
                                            "persona: retiree - parent",
                                            "persona: student - parent"]
    assert list(fitted.margins(kind="eyex").index) == ["price", "income"]
    assert list(fitted.margins(kind="eyex", binary="derivative").index) == [
        "price", "organic", "income"]


def test_by_given_a_column_of_values_says_it_takes_names(fitted, study):
    # by=study.price > 30 was read as a list of names: "by=True is not a column of the data"
    with pytest.raises(TypeError, match=r"by takes column names .* got a Series of "
                                        rf"{len(study)} values"):
        fitted.margins("price", by=study.price > 30)
    with pytest.raises(TypeError, match="by takes column names"):
        fitted.margins("price", by=(study.price > 30).to_numpy())
    pd.testing.assert_frame_equal(fitted.margins("price", by=np.array(["persona"])),
                                  fitted.margins("price", by="persona"))


def _spline_case():
    rng = np.random.default_rng(11)
    n = 600
    d = pd.DataFrame({"price": rng.choice(np.arange(1.0, 6.0, 0.5), n), "x": rng.normal(size=n)})
    eta = 1.5 - 0.6 * d.price + 0.05 * d.price ** 2 + 0.5 * d.x
    d["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return d


def test_margins_through_a_spline_use_one_sided_differences_at_the_outermost_knots():
    # before: DataError wrapping patsy's "some data points fall outside the outermost knots":
    # the central difference at the largest price stepped past bs()'s upper bound
    from scipy.interpolate import BSpline

    d = _spline_case()
    res = br.Logit.from_formula("y ~ bs(price, df=3) + x", d).fit()
    got = res.margins("price")
    # independent reference: patsy's bs(df=3) is the cubic B-spline basis on the knots
    # (min, min, min, min, max, max, max, max), no interior knot, first function dropped
    p = d["price"].to_numpy()
    knots = np.r_[[p.min()] * 4, [p.max()] * 4]
    basis = [BSpline(knots, np.eye(4)[j], 3) for j in range(1, 4)]
    cols = [f"bs(price, df=3)[{j}]" for j in range(3)]
    np.testing.assert_allclose(np.column_stack([f(p) for f in basis]),
                               res.model.design.exog[:, [res.params.index.get_loc(c)
                                                          for c in cols]], atol=1e-12)
    dbasis = np.column_stack([f.derivative()(p) for f in basis])        # analytic d B / d p
    b = res.params.to_numpy()
    x = res.model.design.exog
    mu = 1 / (1 + np.exp(-(x @ b)))
    g = mu * (1 - mu)
    slope = dbasis @ res.params[cols].to_numpy()
    ame = np.mean(g * slope)
    jac = ((g * (1 - 2 * mu) * slope) @ x) / len(p)
    jac[[res.params.index.get_loc(c) for c in cols]] += (g @ dbasis) / len(p)
    se = np.sqrt(jac @ res.cov_params().to_numpy() @ jac)
    assert (p == p.max()).sum() > 30 and (p == p.min()).sum() > 30   # rows on both bounds
    np.testing.assert_allclose(got.loc["price", "estimate"], ame, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.loc["price", "std_err"], se, rtol=1e-6)
    # per row, in a by-price breakdown: the one-sided rows (the two bounds) as exact as the rest
    by = res.margins("price", by="price")
    per = pd.Series(g * slope).groupby(p).mean()
    np.testing.assert_allclose(by["estimate"].to_numpy(), per.to_numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", ["dydx", "eyex"])
def test_generic_margins_through_a_spline_agree_with_the_analytic_ones(kind):
    # the generic (prediction-based) path of the share models stepped past the knots too
    d = _spline_case()
    res = br.Logit.from_formula("y ~ bs(price, df=3) + x", d).fit()
    vmap = VariableMap(res.model.design)
    frame = evaluation_frame(vmap, "overall")
    cov = res.cov_params().to_numpy()
    a = index_margins(res.model.link, res.params, cov, vmap, frame, ["price", "x"], kind=kind)
    g = generic_margins(res._predict_exog, res.params, cov, vmap, frame, ["price", "x"],
                        kind=kind)
    np.testing.assert_allclose(g.estimate, a.estimate, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(g.cov)), np.sqrt(np.diag(a.cov)), rtol=1e-4)
