"""Sanity check of fractional_glm.json against statsmodels (a second, independent route).

Not a test: prints the max relative differences.  statsmodels GLM is correct for
nonrobust, HC0 and one-way cluster (CR1 = G/(G-1)(n-1)/(n-k) with the default
use_correction=True, df_correction=True); its GLM "HC1" is not sandwich's HC1
(statsmodels issue #7798), so HC1 is not compared.  R's prior weights are
statsmodels' ``var_weights`` (scores w_i (y_i - G_i) g_i / v_i x_i, meat with w_i^2),
not ``freq_weights``.

Run:  OPENBLAS_NUM_THREADS=1 python tests/reference/check_statsmodels.py
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

HERE = Path(__file__).resolve().parent


def read_csv_exact(path) -> pd.DataFrame:
    """pandas >= 3 parses floats exactly by default; pandas 2 needs float_precision."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return pd.read_csv(path)
    return pd.read_csv(path, float_precision="round_trip")


def relmax(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def numpy_two_way(X, y, b, w, link, g1, g2):
    """Independent numpy version of sandwich's two-way CR1 (expected-information bread)."""
    from scipy.stats import norm
    eta = X @ b
    if link == "logit":
        G = 1 / (1 + np.exp(-eta)); G1m = 1 - G; g = G * G1m
    else:
        G = norm.cdf(eta); G1m = norm.sf(eta); g = norm.pdf(eta)
    v = G * G1m
    S = X * (w * (y - G) * g / v)[:, None]
    Binv = np.linalg.inv((X * (w * g**2 / v)[:, None]).T @ X)
    n, k = X.shape

    def meat(codes):
        _, inv = np.unique(codes, return_inverse=True, axis=0)
        Sg = np.zeros((inv.max() + 1, k))
        np.add.at(Sg, inv, S)
        G_ = inv.max() + 1
        return G_ / (G_ - 1) * Sg.T @ Sg

    M = meat(g1) + meat(g2) - meat(np.column_stack([g1, g2]))
    return (n - 1) / (n - k) * Binv @ M @ Binv


def main() -> dict:
    ref = json.loads((HERE / "fractional_glm.json").read_text())
    worst: dict[str, float] = {}
    rows = []
    for case in ref["cases"]:
        d = read_csv_exact(HERE / "data" / f"{case['dataset']}.csv")
        yname, rhs = [s.strip() for s in case["formula"].split("~")]
        xs = [s.strip() for s in rhs.split("+")]
        X = np.column_stack([np.ones(len(d))] + [d[c].to_numpy(float) for c in xs])
        y = d[yname].to_numpy(float)
        link = sm.families.links.Logit() if case["link"] == "logit" else sm.families.links.Probit()
        fam = sm.families.Binomial(link=link)
        vw = None if case["weights"] is None else d[case["weights"]].to_numpy(float)
        mod = sm.GLM(y, X, family=fam, var_weights=vw)
        b_ref = np.array([case["params"][n] for n in case["names"]])
        cov = {k: np.array(v) for k, v in case["cov"].items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Newton with the observed Hessian: converges quadratically for the probit too
            r0 = mod.fit(method="newton", tol=1e-15, maxiter=200, start_params=b_ref * (1 + 1e-3))
            rn = mod.fit(method="newton", tol=1e-15, maxiter=200, start_params=b_ref * (1 + 1e-3),
                         cov_type="HC0")
            rc = mod.fit(method="newton", tol=1e-15, maxiter=200, start_params=b_ref * (1 + 1e-3),
                         cov_type="cluster", cov_kwds={"groups": d[case["clusters"][0]].to_numpy()})
            ri = mod.fit(method="IRLS", tol=1e-14, maxiter=1000)
            ri_hc0 = mod.fit(method="IRLS", tol=1e-14, maxiter=1000, cov_type="HC0")
        w_ = np.ones(len(d)) if vw is None else vw
        V2 = numpy_two_way(X, y, b_ref, w_, case["link"], d[case["clusters"][0]].to_numpy(),
                           d[case["clusters"][1]].to_numpy())
        diffs = {
            "numpy two-way vs cluster2_expected": relmax(V2, cov["cluster2_expected"]),
            "params(newton)": relmax(r0.params, b_ref),
            "params(IRLS tol1e-14)": relmax(ri.params, b_ref),
            # newton-fitted GLM uses the observed Hessian in its nonrobust cov
            "nonrobust(newton) vs nonrobust_observed": relmax(r0.cov_params(), cov["nonrobust_observed"]),
            # IRLS-fitted GLM uses the expected information in its nonrobust cov
            "nonrobust(IRLS) vs nonrobust_expected": relmax(ri.cov_params(), cov["nonrobust_expected"]),
            # statsmodels' robust covs use the OBSERVED Hessian bread, even after IRLS
            "HC0(newton) vs HC0_observed": relmax(rn.cov_params(), cov["HC0_observed"]),
            "HC0(IRLS) vs HC0_observed": relmax(ri_hc0.cov_params(), cov["HC0_observed"]),
            "cluster(newton) vs cluster1_observed": relmax(rc.cov_params(), cov["cluster1_observed"]),
            # the gap between the two breads (0 for the logit); not a check
            "[info] HC0(IRLS) vs HC0_expected": relmax(ri_hc0.cov_params(), cov["HC0_expected"]),
        }
        rows.append((case["dataset"], case["link"], case["weights"], diffs))
        for k, v in diffs.items():
            worst[k] = max(worst.get(k, 0.0), v)
    for ds, link, w, diffs in rows:
        print(f"{ds:7s} {link:6s} w={str(w):5s} " + "  ".join(f"{k}={v:.1e}" for k, v in diffs.items()))
    print("max over cases:")
    for k, v in worst.items():
        print(f"  {k:45s} {v:.2e}")
    return worst


if __name__ == "__main__":
    main()
