"""Properties of PPI++ that hold for any data: weight-scale invariance within each sample,
row-order invariance, the estimating equation at zero, and lambda = 0 is the human fit."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import beliefreg as br


def _frames(seed, n, N):
    rng = np.random.default_rng(seed)

    def draw(m):
        d = pd.DataFrame({"x": rng.normal(size=m), "k": rng.integers(0, 3, m)})
        eta = 0.3 + d.x - 0.4 * d.k + rng.normal(0, 1.5, m)
        d["y"] = (rng.uniform(size=m) < 1 / (1 + np.exp(-eta))).astype(float)
        d["f"] = 1 / (1 + np.exp(-(rng.uniform(0, 1) * eta + rng.normal(0, 1, m))))
        d["w"] = rng.uniform(0.2, 3.0, m)
        return d

    return draw(n), draw(N)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(80, 200), N=st.integers(100, 800),
       lam=st.floats(0.0, 1.0), scale_h=st.floats(0.1, 10), scale_u=st.floats(0.1, 10))
def test_ppi_invariances(seed, n, N, lam, scale_h, scale_u):
    human, llm = _frames(seed, n, N)
    f = "y ~ x + C(k)"
    res = br.calibrate(f, human, llm, prediction="f", lam=lam, weights="w")
    # weights are normalised within each sample: scaling one sample's weights changes nothing
    scaled = br.calibrate(f, human.assign(w=human.w * scale_h), llm.assign(w=llm.w * scale_u),
                          prediction="f", lam=lam, weights="w")
    np.testing.assert_allclose(scaled.params, res.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(scaled.cov_params(), res.cov_params(), rtol=1e-7, atol=1e-12)
    # the order of the rows does not matter
    perm = br.calibrate(f, human.sample(frac=1, random_state=seed),
                        llm.sample(frac=1, random_state=seed + 1), prediction="f", lam=lam,
                        weights="w")
    np.testing.assert_allclose(perm.params, res.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(perm.cov_params(), res.cov_params(), rtol=1e-7, atol=1e-12)
    # the rectified estimating equation holds at the estimate
    s, th = res._samples, res.params.to_numpy()
    fam = s.family
    ee = (fam.scores(th, s.x_h, s.y_h, s.w_h).sum(0) / s.n
          - lam * fam.scores(th, s.x_h, s.f_h, s.w_h).sum(0) / s.n
          + lam * fam.scores(th, s.x_u, s.f_u, s.w_u).sum(0) / s.N)
    assert np.abs(ee).max() < 1e-8
    if lam == 0.0:
        np.testing.assert_allclose(res.params, res.human_only.params, rtol=1e-10)
