"""Nonsense input gets a clear error naming the fault."""

import numpy as np
import pandas as pd
import pytest

from beliefreg import DataError, SeparationWarning
from beliefreg.efficiency import (
    LogitCoefficient,
    MeasureMean,
    SyntheticRespondent,
    compare_measures,
    price_coefficient,
    runs_needed,
)


@pytest.fixture(scope="module")
def panel():
    return SyntheticRespondent(10.6, -2.8, precision=18).panel([20, 40, 60, 80], runs=5, seed=0)


@pytest.mark.parametrize("tolerance", [0, -0.1, float("nan"), float("inf")])
def test_tolerance_must_be_positive(panel, tolerance):
    with pytest.raises(ValueError, match="tolerance must be a positive number"):
        runs_needed(panel, MeasureMean(), tolerance=tolerance)


def test_relative_tolerance_around_zero(panel):
    with pytest.raises(ValueError, match="relative tolerance around a target of 0"):
        runs_needed(panel, MeasureMean(), target=0.0)
    # an absolute tolerance around 0 is fine
    runs_needed(panel, MeasureMean(), target=0.0, relative=False, n_boot=5)


def test_fewer_than_two_runs_names_the_conditions(panel):
    thin = panel[~(panel.condition_id.isin([1, 3]) & (panel.run > 0))]
    with pytest.raises(DataError, match=r"2 condition\(s\) of 'condition_id' have fewer: "
                                        r"1 \(1 run\), 3 \(1 run\)"):
        runs_needed(thin, MeasureMean(), target=0.5)


@pytest.mark.parametrize("kwargs, message", [
    ({"belief": "belief_buy"}, r"no column for belief='belief_buy'"),
    ({"condition": "cell"}, r"no column for condition='cell'"),
    ({"run": "draw_no", "choice": "answer"}, r"run='draw_no', choice='answer'"),
    ({"alternative": "buy"}, r"no column for belief='belief_buy'"),
])
def test_unknown_columns(panel, kwargs, message):
    with pytest.raises(DataError, match=message):
        runs_needed(panel, MeasureMean(), target=0.5, **kwargs)
    with pytest.raises(DataError, match=message):
        compare_measures(panel, **kwargs)


def test_alternative_that_never_occurs(panel):
    with pytest.raises(DataError, match="no row of the choice column 'choice' equals the "
                                        "alternative 'buy'"):
        runs_needed(panel, MeasureMean(), target=0.5, alternative="buy", belief="belief_yes")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"level": 1.0}, ValueError, r"level must be in \(0, 1\)"),
    ({"level": 0}, ValueError, r"level must be in \(0, 1\)"),
    ({"n_boot": 0}, ValueError, "n_boot must be a positive integer"),
    ({"n_boot": 2.5}, ValueError, "n_boot must be a positive integer"),
    ({"max_runs": 0}, ValueError, "max_runs must be a positive integer"),
    ({"max_runs": 6}, ValueError, "max_runs=6 exceeds the runs available"),
    ({"measures": ["belief", "shares"]}, ValueError, "measures must be distinct names"),
    ({"measures": []}, ValueError, "measures must be distinct names"),
    ({"target": float("nan")}, ValueError, "target must be finite"),
])
def test_bad_options(panel, kwargs, error, message):
    kwargs.setdefault("target", 0.5)
    with pytest.raises(error, match=message):
        runs_needed(panel, MeasureMean(), **kwargs)


def test_bad_measures_in_the_panel(panel):
    bad = panel.copy()
    bad.loc[3, "belief_yes"] = 1.2
    with pytest.raises(DataError, match=r"beliefs must lie in \[0, 1\]"):
        runs_needed(bad, MeasureMean(), target=0.5)
    bad = panel.assign(choice=np.where(panel.choice == "yes", 1, 2))
    with pytest.raises(DataError, match="numeric, so it must be 0/1"):
        runs_needed(bad, MeasureMean(), target=0.5)
    dup = pd.concat([panel, panel.iloc[[0]]])
    with pytest.raises(DataError, match=r"each \(condition, run\) pair must appear once"):
        runs_needed(dup, MeasureMean(), target=0.5)
    with pytest.raises(TypeError, match="panel must be a data frame"):
        runs_needed(panel.to_numpy(), MeasureMean(), target=0.5)
    clash = panel.assign(choice_is_yes=1.0)
    with pytest.raises(DataError, match="already has a column 'choice_is_yes'"):
        runs_needed(clash, MeasureMean(), target=0.5)


def test_default_target_that_does_not_exist():
    # every run buys at the two low prices and never at the two high ones: the logit of all
    # choices is separated, so there is no ground truth to default to
    rows = [{"price": p, "condition_id": i, "run": r, "belief_yes": b,
             "choice": "yes" if i < 2 else "no"}
            for i, (p, b) in enumerate([(1, .9), (2, .8), (3, .2), (4, .1)]) for r in range(4)]
    with pytest.raises(DataError, match="default target.*does not exist.*pass target="):
        runs_needed(pd.DataFrame(rows), price_coefficient())


def test_estimator_mistakes(panel):
    with pytest.raises(ValueError, match="right-hand side only"):
        LogitCoefficient("belief_yes ~ np.log(price)")
    with pytest.raises(DataError, match="term 'price' is not among"):
        runs_needed(panel, LogitCoefficient("~ np.log(price)", term="price"))
    with pytest.raises(ValueError, match="say which coefficient with term="):
        runs_needed(panel, LogitCoefficient("~ np.log(price) + I(price**2)"))
    with pytest.raises(DataError, match="no row has condition_id == 7"):
        runs_needed(panel, MeasureMean(condition=7), target=0.5)


def test_a_polars_or_pyarrow_panel_gives_the_numbers_of_the_pandas_panel(panel):
    # the models read polars and pyarrow frames; runs_needed and compare_measures refused
    # them with "panel must be a pandas DataFrame, got DataFrame"
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    ref = runs_needed(panel, MeasureMean(), n_boot=50, seed=1)
    with pytest.warns(SeparationWarning):   # 5 runs at 4 prices: the choice logit
        ref_cmp = compare_measures(panel)
    for other in (pl.from_pandas(panel), pa.Table.from_pandas(panel)):
        res = runs_needed(other, MeasureMean(), n_boot=50, seed=1)
        assert res.runs == ref.runs
        pd.testing.assert_frame_equal(res.curves, ref.curves)
        with pytest.warns(SeparationWarning):
            pd.testing.assert_frame_equal(compare_measures(other).table, ref_cmp.table)
    with pytest.raises(TypeError, match=r"panel must be a data frame .*got builtins.list"):
        runs_needed([1, 2], price_coefficient())


def test_a_formula_the_panel_cannot_build_is_named_in_the_users_terms(panel):
    renamed = panel.rename(columns={"price": "cost"})
    with pytest.raises(DataError) as err:
        runs_needed(renamed, price_coefficient(), n_boot=20)
    message = str(err.value)
    assert message.startswith("LogitCoefficient('~ np.log(price)'")
    assert "cannot be evaluated on the panel" in message
    assert "'~ np.log(price)'" in message and "price" in message and "'cost'" in message
    assert "Q(" not in message  # the formula built around the measure stays internal
