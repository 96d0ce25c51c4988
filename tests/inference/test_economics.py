"""Demand curves, WTP and the optimal price: Jacobians against finite differences and against
re-optimisation under perturbed parameters, closed forms, and the errors."""

import copy
import re

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import BeliefregError
from beliefreg.economics import (LogPriceWTPError, NoInteriorOptimumError, demand_curve,
                                 optimal_price, wtp)
from beliefreg.inference.delta import numerical_jacobian


def _with_params(res, x):
    other = copy.copy(res)
    other.params = pd.Series(x, index=res.params.index, name="params")
    return other


def _check_jacobian(res, quantity, rtol=1e-6):
    """Analytic Jacobian of quantity(results) vs central differences that recompute it
    (for the optimum: re-optimise) at perturbed parameters."""
    r = quantity(res)

    def value(x):
        return quantity(_with_params(res, x)).estimate.to_numpy()

    num, _ = numerical_jacobian(value, res.params.to_numpy(), method="central",
                                scale=res.bse.to_numpy())
    np.testing.assert_allclose(r.jacobian.to_numpy(), num, rtol=rtol,
                               atol=rtol * np.abs(num).max())
    return r


@pytest.fixture(scope="module")
def log_model(study):
    return br.FractionalLogit.from_formula("belief ~ np.log(price) + organic + persona",
                                           study).fit(cov_type="cluster",
                                                      cov_kwds={"groups": "persona"})


@pytest.fixture(scope="module")
def linear_model(study):
    return br.FractionalProbit.from_formula("belief ~ price + organic + persona", study).fit()


@pytest.fixture(scope="module")
def interacted_model(study):
    return br.FractionalLogit.from_formula(
        "belief ~ np.log(price) * persona + I(price**2) + organic", study).fit()


# ------------------------------------------------------------------------------ demand
@pytest.mark.parametrize("at", ["overall", "mean", {"organic": 1}])
def test_demand_curve_jacobian(log_model, at):
    _check_jacobian(log_model, lambda r: demand_curve(r, "price", [20.0, 33.0, 50.0], at=at))


def test_demand_curve_is_the_average_prediction(log_model, study):
    curve = log_model.demand_curve("price", [25.0, 40.0])
    for p in (25.0, 40.0):
        d = study.copy()
        d["price"] = p
        np.testing.assert_allclose(curve.loc[p, "estimate"], log_model.predict(d).mean(),
                                   rtol=1e-12)
    row = study.head(1).copy()
    single = log_model.demand_curve("price", [31.0], at=row)
    row["price"] = 31.0
    pred = log_model.get_prediction(row).summary_frame()
    np.testing.assert_allclose(single["estimate"].iloc[0], pred["mean"].iloc[0], rtol=1e-12)
    np.testing.assert_allclose(single["std_err"].iloc[0], pred["mean_se"].iloc[0], rtol=1e-12)
    by = log_model.demand_curve("price", [25.0], by="persona")
    assert by.index.names == ["price", "persona"] and len(by) == 3
    default = log_model.demand_curve("price")
    assert len(default) == 50 and default.index[0] == 20.0 and default.index[-1] == 50.0
    assert np.all(np.diff(default["estimate"]) < 0)


# ------------------------------------------------------------------------------ WTP
def test_wtp_linear_price_is_the_coefficient_ratio(linear_model):
    got = linear_model.wtp("organic", "price")
    b = linear_model.params
    np.testing.assert_allclose(got["estimate"].iloc[0], -b["organic"] / b["price"], rtol=1e-14)
    ref = linear_model.nlcom("-organic / price")
    np.testing.assert_allclose(got["std_err"].iloc[0], ref.std_err.iloc[0], rtol=1e-10)
    # a reference price does not matter when price enters linearly
    at30 = linear_model.wtp("organic", "price", at_price=30)
    np.testing.assert_allclose(at30.to_numpy(), got.to_numpy(), rtol=1e-9)
    _check_jacobian(linear_model, lambda r: wtp(r, "organic", "price"))


def test_wtp_log_price_refuses_without_reference_price_and_explains(log_model):
    ratio = -log_model.params["organic"] / log_model.params["np.log(price)"]
    with pytest.raises(LogPriceWTPError) as info:
        log_model.wtp("organic", "price")
    msg = str(info.value)
    assert "np.log(price)" in msg and "change in np.log(price)" in msg
    assert f"multiplying the price by exp({ratio:.4g})" in msg and "at_price" in msg


def test_wtp_log_price_at_reference_price_matches_closed_form(log_model):
    got = log_model.wtp("organic", "price", at_price=30.0)
    closed = log_model.nlcom("30 * (exp(-organic / `np.log(price)`) - 1)")
    np.testing.assert_allclose(got["estimate"].iloc[0], closed.estimate.iloc[0], rtol=1e-12)
    np.testing.assert_allclose(got["std_err"].iloc[0], closed.std_err.iloc[0], rtol=1e-8)
    _check_jacobian(log_model, lambda r: wtp(r, "organic", "price", at_price=30.0))


def test_wtp_errors(log_model, interacted_model):
    with pytest.raises(KeyError, match="unknown attribute 'bio'"):
        log_model.wtp("bio", "price", at_price=30)
    with pytest.raises(br.inference.datagrid.UnknownVariableError, match="price variable"):
        log_model.wtp("organic", "cost", at_price=30)
    with pytest.raises(LogPriceWTPError, match=re.escape("interacts with ['persona']")):
        interacted_model.wtp("organic", "price", at_price=30)
    with pytest.raises(ValueError, match="is a price term"):
        log_model.wtp("np.log(price)", "price", at_price=30)


# ------------------------------------------------------------------------------ optimum
@pytest.mark.parametrize("cost", [0.0, 12.0])
def test_optimal_price_jacobian_matches_reoptimisation(log_model, cost):
    r = _check_jacobian(log_model, lambda res: optimal_price(res, "price", cost=cost),
                        rtol=2e-5)
    p = r.estimate["price"]
    assert 20 < p < 50
    # the first-order condition holds at the optimum
    eps = 1e-4
    profit = [(q - cost) * log_model.demand_curve("price", [q]).iloc[0, 0]
              for q in (p - eps, p, p + eps)]
    assert profit[1] >= max(profit[0], profit[2])


def test_optimal_price_with_interactions_and_groups(interacted_model, study):
    _check_jacobian(interacted_model, lambda res: optimal_price(res, "price", cost=5.0),
                    rtol=2e-5)
    r = optimal_price(interacted_model, "price", cost=5.0, by="persona")
    assert r.estimate.index.names == ["quantity", "persona"]
    student = study[study.persona == "student"]
    alone = interacted_model.optimal_price("price", cost=5.0, at=student)
    np.testing.assert_allclose(r.estimate.loc[("price", "student")],
                               alone.loc["price", "estimate"], rtol=1e-9)


def test_optimal_price_closed_form_for_a_log_price_logit(log_model):
    """One profile, cost 0: G* = 1 + 1/b, p* = exp((logit(G*) - a) / b)."""
    profile = pd.DataFrame({"price": [30.0], "organic": [1], "persona": ["student"]})
    got = log_model.optimal_price("price", at=profile, bounds=(5.0, 200.0))
    expr = ("exp((logit(1 + 1 / `np.log(price)`) - Intercept - organic - `persona[T.student]`)"
            " / `np.log(price)`)")
    closed = log_model.nlcom(expr)
    np.testing.assert_allclose(got.loc["price", "estimate"], closed.estimate.iloc[0],
                               rtol=1e-10)
    np.testing.assert_allclose(got.loc["price", "std_err"], closed.std_err.iloc[0], rtol=1e-6)
    b = log_model.params["np.log(price)"]
    np.testing.assert_allclose(got.loc["demand", "estimate"], 1 + 1 / b, rtol=1e-9)


def test_higher_cost_raises_the_optimal_price(linear_model):
    lo = linear_model.optimal_price("price", cost=0.0).loc["price", "estimate"]
    hi = linear_model.optimal_price("price", cost=10.0).loc["price", "estimate"]
    assert hi > lo


def test_optimal_price_errors(log_model, study):
    with pytest.raises(NoInteriorOptimumError, match="upper bound 24"):
        log_model.optimal_price("price", cost=15.0, bounds=(20.0, 24.0))
    with pytest.raises(NoInteriorOptimumError, match="lower bound"):
        log_model.optimal_price("price", bounds=(45.0, 50.0))
    rising = study.assign(belief=study["belief"].to_numpy()[::-1])
    up = br.FractionalLogit.from_formula("belief ~ price", rising).fit()
    with pytest.raises(NoInteriorOptimumError, match="check that demand falls with price"):
        up.optimal_price("price")
    with pytest.raises(ValueError, match="not a continuous price"):
        log_model.optimal_price("organic")
    with pytest.raises(ValueError, match="lower < upper"):
        log_model.optimal_price("price", bounds=(30.0, 30.0))
    with pytest.raises(ValueError, match="not finite"):
        log_model.optimal_price("price", bounds=(-5.0, 50.0))


# ------------------------------------------------------------------------------ WTP edges
def _set(res, **values):
    x = res.params.copy()
    for name, v in values.items():
        x[name.replace("__log", "np.log(price)")] = v
    return _with_params(res, x.to_numpy())


def test_wtp_log_price_closed_form_near_a_zero_price(log_model):
    """Issue 12: a closed form exists (w = p0 (exp(-b_a / b_log) - 1)) but the doubling
    search stopped where log(price) stops being defined, and refused (-7.99999 at p0 = 8)."""
    r = -13.592  # exp(r) = 1.25e-6: the attribute is worth all but 1e-5 of the price
    res = _set(log_model, organic=r, __log=-1.0)
    got = res.wtp("organic", "price", at_price=8.0)
    expected = 8.0 * np.expm1(r)
    assert got["estimate"].iloc[0] == pytest.approx(expected, rel=1e-12)
    assert got["estimate"].iloc[0] == pytest.approx(-7.99999, abs=1e-5)
    closed = res.nlcom("8 * (exp(-organic / `np.log(price)`) - 1)")
    np.testing.assert_allclose(got["std_err"].iloc[0], closed.std_err.iloc[0], rtol=1e-8)


@pytest.mark.parametrize("p_root", [2.0, 0.1, 1e-4])
def test_wtp_bracketing_finds_roots_near_the_edge_of_the_domain(study, p_root):
    """No closed form (log price and a linear price term): the search must still bracket a
    root between the last doubling step and price 0. Reference: scipy's brentq on the index."""
    from scipy.optimize import brentq

    base = br.FractionalLogit.from_formula("belief ~ np.log(price) + price + organic",
                                           study).fit()
    a, c, p0 = -1.0, -0.01, 8.0

    def eta_p(p):
        return a * np.log(p) + c * p

    b_attr = -(eta_p(p_root) - eta_p(p0))
    res = _set(base, organic=b_attr, __log=a, price=c)
    got = res.wtp("organic", "price", at_price=p0)["estimate"].iloc[0]
    ref = brentq(lambda w: eta_p(p0 + w) - eta_p(p0) + b_attr, -p0 * (1 - 1e-12), 0.0,
                 xtol=1e-14, rtol=1e-14)
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert got == pytest.approx(p_root - p0, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("p0", [0.0, -3.0])
def test_wtp_reference_price_outside_the_domain_of_log_price(log_model, p0):
    with pytest.raises(LogPriceWTPError, match=r"\['np.log\(price\)'\] are not defined at "
                                               f"'price' = {p0:g}"):
        log_model.wtp("organic", "price", at_price=p0)


def test_wtp_of_a_categorical_variable_or_price_is_a_beliefreg_error_naming_the_valid_ones():
    # before: res.wtp("region", "price") was a bare KeyError "unknown attribute 'region'",
    # and a categorical price a bare "could not convert string to float"
    rng = np.random.default_rng(3)
    n = 400
    d = pd.DataFrame({"price": rng.choice([1.0, 2.0, 3.0, 4.0], n),
                      "region": rng.choice(["north", "south", "west"], n),
                      "organic": rng.integers(0, 2, n)})
    eta = 1.0 - 0.5 * d.price + 0.4 * d.organic + 0.3 * (d.region == "south")
    d["buy"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    res = br.Logit.from_formula("buy ~ price + C(region) + organic", d).fit()
    levels = ["C(region)[T.south]", "C(region)[T.west]"]
    with pytest.raises(BeliefregError, match=r"WTP needs a numeric regressor") as info:
        res.wtp("region", "price")
    assert "'region' is categorical" in str(info.value) and str(levels) in str(info.value)
    assert isinstance(info.value, KeyError)       # code that caught the KeyError still does
    with pytest.raises(BeliefregError, match=r"WTP needs a numeric regressor") as info:
        res.wtp("bio", "price")
    assert str(levels + ["organic"]) in str(info.value)   # not the intercept nor the price
    with pytest.raises(BeliefregError, match=r"WTP needs a numeric price: 'region' is "
                                                r"categorical.*\['price', 'organic'\]"):
        res.wtp("organic", "region")
    # each level has its WTP against the base level: -b_level / b_price
    got = res.wtp(levels[0], "price")
    np.testing.assert_allclose(got["estimate"].iloc[0],
                               -res.params[levels[0]] / res.params["price"], rtol=1e-12)
