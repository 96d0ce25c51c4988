"""plot_demand: the data drawn (curve, band, observed means), not pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

import beliefreg as br  # noqa: E402

from .inference.conftest import make_study  # noqa: E402


@pytest.fixture(scope="module")
def res():
    return br.FractionalLogit.from_formula("belief ~ np.log(price) + organic + persona",
                                           make_study()).fit()


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_curve_band_and_observed_means(res):
    grid = np.array([20.0, 30.0, 40.0, 50.0])
    ax = res.plot_demand("price", grid, alpha=0.1)
    curve = res.demand_curve("price", grid, alpha=0.1)
    fitted, observed = ax.lines[0], ax.lines[1]
    np.testing.assert_array_equal(fitted.get_xdata(), grid)
    np.testing.assert_allclose(fitted.get_ydata(), curve["estimate"], rtol=1e-14)
    (band,) = _bands(ax)
    verts = band.get_paths()[0].vertices
    for x, lo, hi in zip(grid, curve["ci_lower"], curve["ci_upper"]):
        at_x = verts[np.isclose(verts[:, 0], x), 1]
        assert np.isclose(at_x.min(), lo) and np.isclose(at_x.max(), hi)
    data = make_study()
    means = data.groupby("price")["belief"].mean()
    np.testing.assert_allclose(observed.get_xdata(), means.index)
    np.testing.assert_allclose(observed.get_ydata(), means.to_numpy(), rtol=1e-12)
    assert observed.get_linestyle() == "None" and observed.get_marker() == "o"
    assert ax.get_xlabel() == "price"
    plt.close(ax.figure)


def test_one_curve_per_group_and_no_observed(res):
    fig, ax = plt.subplots()
    out = res.plot_demand("price", [20.0, 35.0, 50.0], by="persona", observed=False, ax=ax)
    assert out is ax and len(ax.lines) == 3 and len(_bands(ax)) == 3
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["persona = parent", "persona = retiree", "persona = student"]
    curve = res.demand_curve("price", [20.0, 35.0, 50.0], by="persona")
    np.testing.assert_allclose(ax.lines[2].get_ydata(),
                               curve.xs("student", level="persona")["estimate"], rtol=1e-14)
    plt.close(fig)


def test_default_grid_and_binned_means():
    from beliefreg.datasets import load_401k
    from beliefreg.plotting import observed_means

    r = br.FractionalLogit.from_formula("prate01 ~ mrate", load_401k()).fit()
    ax = r.plot_demand("mrate")
    assert len(ax.lines[0].get_xdata()) == 100
    binned = observed_means(r, "mrate")  # many distinct values: quantile bins
    assert len(binned) <= 20 and binned["count"].sum() == r.nobs
    plt.close(ax.figure)
