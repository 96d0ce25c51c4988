"""PPI++ against the reference implementation ``ppi_py`` (PyPI ``ppi-python``) on the same
arrays at the same lambda: point estimates and intervals to 1e-6.

ppi_py's conventions, matched here by options (see beliefreg.calibration.estimator):
``ppi_logistic_ci`` uses the ``np.cov`` (ddof=1) variance of each sample -> ``ddof=1``, and
the information averaged over both samples pooled as the bread -> ``bread='pooled'``;
``ppi_mean_ci`` uses ``np.std`` (ddof=0) -> the default ``ddof=0``. The mean is the PPI++ fit
of an intercept-only logit, ``expit(Intercept)``, whose delta-method interval on the
probability scale is ppi_py's interval for the mean.
"""

import numpy as np
import pandas as pd
import pytest

import beliefreg as br

ppi_py = pytest.importorskip("ppi_py")


def _data(seed, n=400, N=4000, k=2, binary=True):
    rng = np.random.default_rng(seed)

    def draw(m):
        x = rng.normal(size=(m, k))
        z = rng.normal(size=m)                       # what the LLM sees beyond x
        eta = 0.3 + x @ np.array([0.8, -0.5][:k]) + z
        p = 1 / (1 + np.exp(-eta))
        y = (rng.uniform(size=m) < p).astype(float) if binary else p
        f = 1 / (1 + np.exp(-(eta + 0.4 + rng.normal(0, 0.5, m))))  # biased, noisy belief
        return x, y, f

    x, y, f = draw(n)
    xu, _, fu = draw(N)
    return x, y, f, xu, fu


def _frames(x, y, f, xu, fu):
    cols = [f"x{j}" for j in range(x.shape[1])]
    human = pd.DataFrame(x, columns=cols).assign(y=y, f=f)
    llm = pd.DataFrame(xu, columns=cols).assign(f=fu)
    return human, llm, "y ~ " + " + ".join(cols)


def _with_const(x):
    return np.column_stack([np.ones(len(x)), x])


@pytest.mark.parametrize("lam", [0.0, 0.37, 1.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_logistic_equals_ppi_py(lam, seed):
    x, y, f, xu, fu = _data(seed)
    human, llm, formula = _frames(x, y, f, xu, fu)
    res = br.calibrate(formula, human, llm, prediction="f", lam=lam, ddof=1,
                       bread="pooled")
    X, XU = _with_const(x), _with_const(xu)
    point = ppi_py.ppi_logistic_pointestimate(X, y, f, XU, fu, lam=lam)
    lo, hi = ppi_py.ppi_logistic_ci(X, y, f, XU, fu, alpha=0.05, lam=lam)
    np.testing.assert_allclose(res.params.to_numpy(), point, atol=1e-6, rtol=0)
    ci = res.conf_int(0.05).to_numpy()
    np.testing.assert_allclose(ci[:, 0], lo, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ci[:, 1], hi, atol=1e-6, rtol=0)


def test_logistic_equals_ppi_py_with_weights():
    x, y, f, xu, fu = _data(3)
    rng = np.random.default_rng(7)
    w, wu = rng.uniform(0.5, 2, len(y)), rng.uniform(0.5, 2, len(fu))
    human, llm, formula = _frames(x, y, f, xu, fu)
    human["w"], llm["w"] = w, wu
    res = br.calibrate(formula, human, llm, prediction="f", lam=0.6, ddof=1, weights="w",
                       bread="pooled")
    X, XU = _with_const(x), _with_const(xu)
    point = ppi_py.ppi_logistic_pointestimate(X, y, f, XU, fu, lam=0.6, w=w, w_unlabeled=wu)
    lo, hi = ppi_py.ppi_logistic_ci(X, y, f, XU, fu, alpha=0.05, lam=0.6, w=w,
                                    w_unlabeled=wu)
    np.testing.assert_allclose(res.params.to_numpy(), point, atol=1e-6, rtol=0)
    ci = res.conf_int(0.05).to_numpy()
    np.testing.assert_allclose(ci, np.column_stack([lo, hi]), atol=1e-6, rtol=0)


def test_tuned_lambda_close_to_ppi_py():
    """Power tuning: ppi_py pools the prediction-score variance over both samples and mixes
    ddof conventions, so the two tuned lambdas differ in finite samples; they estimate the
    same optimum."""
    x, y, f, xu, fu = _data(4, n=2000, N=20000)
    human, llm, formula = _frames(x, y, f, xu, fu)
    res = br.calibrate(formula, human, llm, prediction="f", ddof=1)
    X, XU = _with_const(x), _with_const(xu)
    theta1 = ppi_py.ppi_logistic_pointestimate(X, y, f, XU, fu, lam=1.0)
    stats = ppi_py.ppi._logistic_get_stats(theta1, X, y, f, XU, fu, np.ones(len(y)),
                                           np.ones(len(fu)))
    lam_ref = ppi_py.ppi._calc_lam_glm(*stats, clip=True)
    assert 0.05 < res.lam < 1.0
    assert abs(res.lam - lam_ref) < 0.02


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("binary", [True, False])
def test_mean_equals_ppi_py(lam, binary):
    _, y, f, _, fu = _data(5, binary=binary)
    human = pd.DataFrame({"y": y, "f": f})
    llm = pd.DataFrame({"f": fu})
    model = br.Logit if binary else br.FractionalLogit
    res = br.calibrate("y ~ 1", human, llm, prediction="f", lam=lam, model=model)
    frame = res.get_prediction(pd.DataFrame(index=[0])).summary_frame(0.05, method="delta")
    point = ppi_py.ppi_mean_pointestimate(y, f, fu, lam=lam)
    lo, hi = ppi_py.ppi_mean_ci(y, f, fu, alpha=0.05, lam=lam)
    np.testing.assert_allclose(frame["mean"].iloc[0], np.ravel(point)[0], atol=1e-6, rtol=0)
    np.testing.assert_allclose(frame["mean_ci_lower"].iloc[0], np.ravel(lo)[0], atol=1e-6,
                               rtol=0)
    np.testing.assert_allclose(frame["mean_ci_upper"].iloc[0], np.ravel(hi)[0], atol=1e-6,
                               rtol=0)
