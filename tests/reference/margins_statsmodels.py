"""Second reference for margins.json: statsmodels get_margeff on the plain logit.

Model: prate01 ~ mrate + ltotemp + age + agesq + sole (k401, no weights), fractional
logit, HC0.  Both statsmodels GLM(Binomial) and discrete Logit (which accepts a
fractional outcome) are fitted with Newton to a tight tolerance, and
get_margeff(at="overall", method="dydx") is recorded with its SEs; the
relative differences to R (margins.json) are stored under max_rel_diff_vs_R
(all about 1e-14 with statsmodels 0.15).

Run:  OPENBLAS_NUM_THREADS=1 python tests/reference/margins_statsmodels.py
Writes tests/reference/margins_statsmodels.json.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm

HERE = Path(__file__).resolve().parent


def read_csv_exact(path) -> pd.DataFrame:
    if int(pd.__version__.split(".")[0]) >= 3:
        return pd.read_csv(path)
    return pd.read_csv(path, float_precision="round_trip")


def main() -> None:
    d = read_csv_exact(HERE / "data" / "k401.csv")
    xs = ["mrate", "ltotemp", "age", "agesq", "sole"]
    X = np.column_stack([np.ones(len(d))] + [d[c].to_numpy(float) for c in xs])
    y = d["prate01"].to_numpy(float)
    ref = json.loads((HERE / "margins.json").read_text())["plain_logit_HC0"]
    b_ref = np.array([ref["params"][n] for n in ref["names"]])
    out = {
        "description": ("statsmodels get_margeff(at='overall', method='dydx') on the fractional logit "
                        "prate01 ~ mrate + ltotemp + age + agesq + sole (k401), cov_type='HC0'. "
                        "Second reference for margins.json['plain_logit_HC0']."),
        "generated_by": "python tests/reference/margins_statsmodels.py",
        "statsmodels_version": statsmodels.__version__,
        "names": ref["names"],
        "models": {},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {
            "GLM_Binomial_logit": sm.GLM(y, X, family=sm.families.Binomial()).fit(
                method="newton", tol=1e-15, maxiter=200, start_params=b_ref * (1 + 1e-3), cov_type="HC0"),
            "Logit": sm.Logit(y, X).fit(method="newton", tol=1e-15, maxiter=200, disp=0,
                                        start_params=b_ref * (1 + 1e-3), cov_type="HC0"),
        }
        for name, res in fits.items():
            mg = res.get_margeff(at="overall", method="dydx")
            est = np.asarray(mg.margeff); se = np.asarray(mg.margeff_se)
            r_est = np.array([ref["ape_dydx_overall"][v]["estimate"] for v in xs])
            r_se = np.array([ref["ape_dydx_overall"][v]["std_err"] for v in xs])
            out["models"][name] = {
                "params": dict(zip(ref["names"], map(float, res.params))),
                "HC0": np.asarray(res.cov_params()).tolist(),
                "ape_dydx_overall": {v: {"estimate": float(e), "std_err": float(s)}
                                     for v, e, s in zip(xs, est, se)},
                "max_rel_diff_vs_R": {
                    "params": float(np.max(np.abs(res.params - b_ref) / np.abs(b_ref))),
                    "HC0": float(np.max(np.abs(res.cov_params() - np.array(ref["cov"]["HC0_expected"])))
                                 / np.max(np.abs(np.array(ref["cov"]["HC0_expected"])))),
                    "estimate": float(np.max(np.abs(est - r_est) / np.abs(r_est))),
                    "std_err": float(np.max(np.abs(se - r_se) / np.abs(r_se))),
                },
            }
            print(name, out["models"][name]["max_rel_diff_vs_R"])
    (HERE / "margins_statsmodels.json").write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", HERE / "margins_statsmodels.json")


if __name__ == "__main__":
    main()
