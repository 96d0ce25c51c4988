"""Formulas users write (issue 12, item 4): columns quoted with patsy's Q() (spaces, Python
keywords) in margins, elasticities and WTP, and categorical variables with a single level."""

import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import DataError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    n = 400
    d = pd.DataFrame({"unit price": rng.uniform(1, 3, n), "class": rng.choice(["a", "b"], n),
                      "g": "only"})
    eta = 1 - 0.8 * d["unit price"] + 0.4 * (d["class"] == "b")
    d["belief"] = np.clip(1 / (1 + np.exp(-eta)) + rng.normal(0, 0.05, n), 0, 1)
    d["unit_price"], d["klass"] = d["unit price"], d["class"]
    return d


QUOTED = ["belief ~ Q('unit price') + Q('class')",
          "belief ~ np.log(Q('unit price')) + Q('class')",
          "belief ~ Q('unit price') * Q('class') + I(Q('unit price') ** 2)"]


def _plain(formula):
    return formula.replace("Q('unit price')", "unit_price").replace("Q('class')", "klass")


@pytest.mark.parametrize("formula", QUOTED)
@pytest.mark.parametrize("kind", ["dydx", "eyex"])
def test_margins_of_quoted_columns_equal_those_of_renamed_columns(data, formula, kind):
    quoted = br.FractionalLogit.from_formula(formula, data).fit()
    plain = br.FractionalLogit.from_formula(_plain(formula), data).fit()
    got = quoted.margins("unit price", kind=kind)
    ref = plain.margins("unit_price", kind=kind)
    np.testing.assert_allclose(got[["estimate", "std_err"]].to_numpy(),
                               ref[["estimate", "std_err"]].to_numpy(), rtol=1e-6)
    assert list(got.index) == ["unit price"]
    el = quoted.elasticity("unit price")
    np.testing.assert_allclose(el["estimate"].to_numpy(),
                               plain.elasticity("unit_price")["estimate"].to_numpy(), rtol=1e-6)


def test_default_margins_and_discrete_change_of_a_quoted_categorical(data):
    quoted = br.FractionalLogit.from_formula(QUOTED[0], data).fit()
    plain = br.FractionalLogit.from_formula(_plain(QUOTED[0]), data).fit()
    got, ref = quoted.margins(), plain.margins()
    assert list(got.index) == ["unit price", "class: b - a"]
    np.testing.assert_allclose(got[["estimate", "std_err"]].to_numpy(),
                               ref[["estimate", "std_err"]].to_numpy(), rtol=1e-9)


def test_wtp_with_a_quoted_log_price(data):
    quoted = br.FractionalLogit.from_formula(QUOTED[1], data).fit()
    plain = br.FractionalLogit.from_formula(_plain(QUOTED[1]), data).fit()
    got = quoted.wtp("Q('class')[T.b]", "unit price", at_price=2.0)
    ref = plain.wtp("klass[T.b]", "unit_price", at_price=2.0)
    np.testing.assert_allclose(got[["estimate", "std_err"]].to_numpy(),
                               ref[["estimate", "std_err"]].to_numpy(), rtol=1e-9)


def test_margins_skip_a_one_level_categorical_and_say_why_when_asked_for_it(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = br.FractionalLogit.from_formula("belief ~ Q('unit price') + C(g)", data).fit()
    ref = br.FractionalLogit.from_formula("belief ~ unit_price", data).fit()
    got = res.margins()
    assert list(got.index) == ["unit price"]
    np.testing.assert_allclose(got["estimate"].to_numpy(), ref.margins()["estimate"].to_numpy(),
                               rtol=1e-9)
    with pytest.raises(DataError, match="'g' takes a single level \\('only'\\)"):
        res.margins("g")


def test_t_test_and_wald_test_accept_names_quoted_in_backticks_as_nlcom_does(data):
    # nlcom's error tells users to quote names such as `persona[T.student]` in backticks;
    # wald_test("`...` = 0") then failed with "unrecognized token in constraint"
    res = br.FractionalLogit.from_formula("belief ~ Q('unit price') + Q('class')", data).fit()
    price, klass = "Q('unit price')", "Q('class')[T.b]"
    assert {price, klass} <= set(res.params.index)
    quoted = f"`{klass}` = 0, `{price}` = -0.8"
    plain = f"{klass} = 0, {price} = -0.8"
    assert res.wald_test(quoted).statistic == pytest.approx(res.wald_test(plain).statistic,
                                                            rel=1e-12)
    t = res.t_test(f"`{price}` = -0.8")
    assert float(np.squeeze(t.effect)) == pytest.approx(res.params[price], rel=1e-12)
    assert float(np.squeeze(t.tvalue)) == pytest.approx(
        (res.params[price] + 0.8) / res.bse[price], rel=1e-9)
    with pytest.raises(ValueError, match="cannot read the hypothesis"):
        res.wald_test("`nope` = 0")
