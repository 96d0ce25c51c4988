"""The delta-method engine: Jacobians (complex step, central differences), errors, API."""

import re

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.datasets import load_401k
from beliefreg.inference.delta import (DeltaResult, NonSmoothFunctionError, delta_method,
                                       numerical_jacobian, parse_expression)

B = pd.Series([2.0, -0.5, 0.3], index=["Intercept", "np.log(price)", "I(age ** 2)"])
V = np.array([[0.04, 0.01, 0.0], [0.01, 0.01, 0.002], [0.0, 0.002, 0.09]])
COLUMNS = ["estimate", "std_err", "z", "p_value", "ci_lower", "ci_upper"]


def test_ratio_matches_closed_form():
    r = delta_method(lambda p: -p["Intercept"] / p["np.log(price)"], B, V, names=["wtp"])
    a, c = 2.0, -0.5
    j = np.array([-1 / c, a / c**2, 0.0])
    assert r.jacobian_method == "complex"
    np.testing.assert_allclose(r.jacobian.to_numpy()[0], j, rtol=1e-14)
    np.testing.assert_allclose(r.std_err.iloc[0], np.sqrt(j @ V @ j), rtol=1e-13)
    frame = r.summary_frame(0.1)
    assert list(frame.columns) == COLUMNS and list(frame.index) == ["wtp"]
    np.testing.assert_allclose(frame["ci_upper"] - frame["estimate"],
                               1.6448536269514722 * frame["std_err"], rtol=1e-12)


def test_string_expressions_and_backticks():
    f1 = delta_method("exp(`np.log(price)`) * Intercept", B, V)
    f2 = delta_method("exp(np.log(price)) * Intercept", B, V)
    f3 = delta_method(lambda p: np.exp(p.iloc[1]) * p.iloc[0], B, V)
    for r in (f1, f2):
        np.testing.assert_allclose(r.summary_frame().to_numpy(), f3.summary_frame().to_numpy(),
                                   rtol=1e-13)
    assert f1.estimate.index[0] == "exp(`np.log(price)`) * Intercept"
    multi = delta_method("Intercept + `I(age ** 2)`, Intercept * 2", B, V)
    np.testing.assert_allclose(multi.estimate.to_numpy(), [2.3, 4.0])
    np.testing.assert_allclose(multi.cov.to_numpy()[1, 1], 4 * 0.04)


def test_series_output_names_rows_and_joint_covariance():
    r = delta_method(lambda p: pd.Series({"a": p.iloc[0] ** 2, "b": np.sin(p.iloc[2])}), B, V)
    assert list(r.estimate.index) == ["a", "b"]
    j = np.array([[4.0, 0, 0], [0, 0, np.cos(0.3)]])
    np.testing.assert_allclose(r.cov.to_numpy(), j @ V @ j.T, rtol=1e-13)
    d = r.contrast([1, -1], names=["a-b"])
    np.testing.assert_allclose(d.std_err.iloc[0], np.sqrt([1, -1] @ j @ V @ j.T @ [1, -1]))


def test_not_complex_safe_falls_back_to_central():
    from scipy.special import expit, log_ndtr
    for f, d in [(lambda p: expit(p.iloc[0]), lambda x: expit(x) * (1 - expit(x))),
                 (lambda p: float(log_ndtr(p.iloc[0])), lambda x: np.exp(-x * x / 2 - log_ndtr(x)) / np.sqrt(2 * np.pi)),
                 (lambda p: np.abs(p.iloc[0]) * p.iloc[1], None)]:
        r = delta_method(f, B, V)
        assert r.jacobian_method == "central"
        if d is not None:
            np.testing.assert_allclose(r.jacobian.iloc[0, 0], d(2.0), rtol=1e-8)
    # abs of a complex number is its modulus: the complex step alone would be silently wrong
    r = delta_method(lambda p: np.abs(p.iloc[0]) * p.iloc[1], B, V)
    np.testing.assert_allclose(r.jacobian.to_numpy()[0], [-0.5, 2.0, 0.0], rtol=1e-8)


def test_analytic_jacobian_is_used_and_checked_for_shape():
    r = delta_method(lambda p: p.iloc[0] * p.iloc[1], B, V, jacobian=lambda p: [p.iloc[1], p.iloc[0], 0])
    assert r.jacobian_method == "analytic"
    np.testing.assert_allclose(r.jacobian.to_numpy()[0], [-0.5, 2.0, 0.0])
    with pytest.raises(ValueError, match="Jacobian has shape"):
        delta_method(lambda p: p.iloc[0], B, V, jacobian=np.ones((1, 2)))


@pytest.mark.parametrize("func, fault", [
    (lambda p: np.abs(p["I(age ** 2)"] - 0.3), "not differentiable in parameter 'I(age ** 2)'"),
    (lambda p: max(p["Intercept"], 2.0), "not differentiable in parameter 'Intercept'"),
    (lambda p: float(p["np.log(price)"] > -0.5), "not differentiable in parameter 'np.log(price)'"),
    (lambda p: np.floor(p["Intercept"] * 10), "not differentiable"),
    (lambda p: np.log(p["Intercept"] - 2.0), "not finite at the estimate"),
    (lambda p: 1.0 / (p["Intercept"] - 2.0), "not finite at the estimate"),
    (lambda p: np.sqrt(-p["np.log(price)"] - 0.5 + 1e-300), "not"),
])
def test_non_smooth_or_non_finite_functions_are_refused(func, fault):
    with np.errstate(all="ignore"), pytest.raises(NonSmoothFunctionError, match=re.escape(fault)):
        delta_method(func, B, V, method="central")


def test_smooth_steep_functions_are_not_flagged():
    # large curvature relative to the slope must not look like a kink
    for f in [lambda p: np.exp(40 * p.iloc[1]), lambda p: p.iloc[2] ** 8, lambda p: np.cos(p.iloc[0] * 50)]:
        delta_method(f, B, V, method="central")


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['price'\]"):
        delta_method("Intercept * price", B, V)
    with pytest.raises(ValueError, match="unknown parameter `nope`"):
        delta_method("`nope` + 1", B, V)
    with pytest.raises(ValueError, match="cannot parse"):
        delta_method("Intercept +* 2", B, V)
    with pytest.raises(ValueError, match="cov has shape"):
        delta_method(lambda p: p.iloc[0], B, np.eye(2))
    with pytest.raises(ValueError, match="2 names given for 1 outputs"):
        delta_method(lambda p: p.iloc[0], B, V, names=["a", "b"])
    with pytest.raises(ValueError, match="alpha"):
        delta_method(lambda p: p.iloc[0], B, V).summary_frame(alpha=1.5)
    with pytest.raises(TypeError, match="complex"):
        numerical_jacobian(lambda x: np.abs(x), [1.0], method="complex")
    with pytest.raises(ValueError, match="method"):
        numerical_jacobian(lambda x: x, [1.0], method="forward")


def test_parse_expression_does_not_touch_substrings():
    f = parse_expression("age + agesq", ["age", "agesq"])
    assert f(pd.Series([1.0, 10.0], index=["age", "agesq"])) == 11.0
    g = parse_expression("np.exp(age)", ["age"])
    np.testing.assert_allclose(g(pd.Series([1.0], index=["age"])), np.e)


def test_numerical_jacobian_scale_aware_step():
    # parameters of very different magnitudes (1e-6 and 1e4) are both differentiated accurately
    f = lambda x: np.array([np.sin(x[0] * 1e6) * x[1] ** 0.5])  # noqa: E731
    x = np.array([1e-6, 1e4])
    jac, how = numerical_jacobian(f, x, method="central", scale=[1e-7, 10.0])
    exact = [np.cos(1.0) * 1e6 * 100.0, np.sin(1.0) * 0.5 / 100.0]
    np.testing.assert_allclose(jac[0], exact, rtol=1e-7)
    assert how == "central"


def test_results_nlcom_uses_the_fitted_covariance():
    data = load_401k()
    res = br.FractionalLogit.from_formula("prate01 ~ mrate + age + sole", data).fit(
        cov_type="cluster", cov_kwds={"groups": "age"})
    r = res.nlcom("sole / mrate", name="ratio")
    assert isinstance(r, DeltaResult)
    b, v = res.params, res.cov_params().to_numpy()
    j = np.zeros(len(b))
    j[list(b.index).index("sole")] = 1 / b["mrate"]
    j[list(b.index).index("mrate")] = -b["sole"] / b["mrate"] ** 2
    np.testing.assert_allclose(r.std_err.iloc[0], np.sqrt(j @ v @ j), rtol=1e-12)
    # a linear function reproduces t_test
    lin = res.nlcom(lambda p: p["mrate"] - 2 * p["age"])
    tt = res.t_test("mrate - 2 * age = 0")
    np.testing.assert_allclose(lin.std_err.iloc[0], np.asarray(tt.sd).item(), rtol=1e-12)


def test_a_list_of_expressions_and_the_mistakes_of_a_callable():
    # nlcom(["a", "b"]) was "TypeError: 'list' object is not callable"; params[0] in a
    # callable (pandas 3: no positional fallback) was a bare "KeyError: 0"
    multi = delta_method("Intercept + `I(age ** 2)`, Intercept * 2", B, V)
    listed = delta_method(["Intercept + `I(age ** 2)`", "Intercept * 2"], B, V)
    np.testing.assert_allclose(listed.cov.to_numpy(), multi.cov.to_numpy(), rtol=1e-14)
    assert list(listed.estimate.index) == list(multi.estimate.index)
    with pytest.raises(TypeError, match="func must be a callable or a string expression"):
        delta_method({"a": "Intercept"}, B, V)
    with pytest.raises(KeyError, match=r"func looked up 0, which is not a parameter: .*"
                                       r"params.iloc\[i\]"):
        delta_method(lambda p: np.exp(p[0]), B, V)
    with pytest.raises(KeyError, match="'nope'"):   # any other KeyError of func: its own
        delta_method(lambda p: {"a": 1}["nope"], B, V)
