"""The index types of the public outputs (issue 12, item 6).

Under pandas 3, ``pd.Index(multi_index)`` flattens a MultiIndex to an Index of tuples, so the
multinomial model's ``margins()`` and ``get_prediction()`` lost their MultiIndex and
``.loc[('price_pampers', 's_luvs')]`` failed. This module checks every public output whose
rows are labelled by two things; run it under the oldest and the newest pandas supported
(see tests/reference/PANDAS_VERSIONS.md for the throwaway-venv commands and results).
"""

import numpy as np
import pandas as pd
import pytest

import beliefreg as br

MN_FORMULA = ("s_pampers + s_huggies + s_luvs + s_none ~ np.log(price_pampers) + "
              "np.log(price_huggies) + np.log(price_luvs) + income")


@pytest.fixture(scope="module")
def mn(wide):
    return br.MultinomialFractionalLogit.from_formula(MN_FORMULA, wide, base="s_none").fit()


@pytest.fixture(scope="module")
def cl(long):
    return br.ConditionalLogit.from_formula("belief ~ price + C(brand)", long, groups="obs",
                                            alternatives="brand").fit()


def _is_multi(index, nlevels):
    assert isinstance(index, pd.MultiIndex), type(index)
    assert index.nlevels == nlevels


def test_multinomial_margins_have_a_multiindex(mn):
    m = mn.margins(["price_pampers", "income"])
    _is_multi(m.index, 2)
    row = m.loc[("price_pampers", "s_luvs")]
    assert np.isfinite(row["estimate"]) and row["std_err"] > 0
    assert len(m.loc["income"]) == 4


def test_multinomial_predictions_have_a_multiindex(mn, wide):
    frame = mn.get_prediction(wide.iloc[:3]).summary_frame()
    _is_multi(frame.index, 2)
    assert frame.loc[(wide.index[1], "s_huggies"), "mean"] == pytest.approx(
        np.asarray(mn.predict(wide.iloc[:3]))[1, 1], rel=1e-12)
    averaged = mn.get_prediction(wide.iloc[:3], average=True).summary_frame()
    assert not isinstance(averaged.index, pd.MultiIndex)
    assert list(averaged.index) == list(mn.model.alternatives)


def test_multinomial_elasticities_have_a_multiindex(mn):
    _is_multi(mn.elasticities(["price_pampers"]).summary_frame().index, 2)


def test_conditional_outputs_have_a_multiindex(cl, long):
    _is_multi(cl.margins("price").index, 2)
    frame = cl.get_prediction().summary_frame()
    _is_multi(frame.index, 2)
    _is_multi(cl.elasticities("price").summary_frame().index, 2)
    _is_multi(cl.diversion_ratios("price").summary_frame().index, 2)


def test_binary_margins_by_group_have_a_multiindex(wide):
    d = wide.assign(buy=(wide.s_pampers > wide.s_pampers.median()).astype(float))
    res = br.FractionalLogit.from_formula("s_pampers ~ np.log(price_pampers) + income", d).fit()
    by = res.margins("price_pampers", by="persona")
    _is_multi(by.index, 2)
    plain = res.margins()
    assert not isinstance(plain.index, pd.MultiIndex)
    assert list(plain.index) == ["price_pampers", "income"]


def test_delta_method_keeps_a_multiindex_given_as_names():
    from beliefreg.inference.delta import delta_method

    names = pd.MultiIndex.from_product([["a", "b"], ["x", "y"]], names=["k", "j"])
    r = delta_method(lambda b: np.repeat(b, 2), pd.Series([1.0, 2.0], index=["p", "q"]),
                     np.eye(2), names=names)
    _is_multi(r.summary_frame().index, 2)
    assert list(r.estimate.index.names) == ["k", "j"]
    c = r.contrast(np.eye(4)[:2], names=[("d", 1), ("d", 2)])
    _is_multi(c.estimate.index, 2)
