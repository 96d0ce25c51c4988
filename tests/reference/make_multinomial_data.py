"""Write the simulated diaper-brand belief data for the multinomial references (data/diapers_*.csv).

A deterministic stand-in for the paper's brand-choice study (Pampers, Huggies, Luvs, none):
25 personas (with an income) x 16 price conditions (a price per diaper for each brand, in
dollars, whole cents) x 2 runs = 800 observations. The belief vector of a run is a Dirichlet
draw around a logit mean with a persona-level utility shock (so observations of a persona
are correlated and clustering matters); beliefs below 0.01 are set to exactly 0 and the row is
renormalised (exact zeros occur, as with top-k log-probabilities). ``w`` is a prior weight
``1 + (row % 3) / 2``.

``diapers_wide.csv``: one row per observation (``obs``), the four shares ``s_pampers,
s_huggies, s_luvs, s_none`` (``s_none = 1 - the others``), the three prices, ``income``
(thousands of dollars), ``persona``, ``condition``, ``run``, ``w``, and ``choice`` (an
alternative drawn from the belief: model choice).
``diapers_long.csv``: the same, one row per observation x brand (``brand`` in pampers, huggies,
luvs, none), with ``price`` (0 for none), ``belief``, ``chosen`` (0/1) and ``cost``, a
deterministic cost shifter ``round(0.6 price + 0.01 ((7 condition) mod 5), 4)`` (0 for none)
used as an instrument for the price in the share-inversion references.

numpy's PCG64 stream is stable across numpy versions, so the files are reproducible; the
tests read the committed files. Floats are written as shortest round-trip reprs.

Run: ``OPENBLAS_NUM_THREADS=1 python tests/reference/make_multinomial_data.py``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "data"
BRANDS = ["pampers", "huggies", "luvs"]


def make() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(20251223)
    n_persona, n_cond, n_run = 25, 16, 2
    income = rng.integers(20, 151, n_persona)
    prices = np.column_stack([rng.integers(28, 46, n_cond), rng.integers(25, 43, n_cond),
                              rng.integers(15, 31, n_cond)]) / 100.0
    shock = rng.normal(scale=0.35, size=(n_persona, 3))
    alpha = np.array([-1.2, -1.4, -1.9])
    beta_price = -2.5
    gamma_income = np.array([0.012, 0.008, -0.004])
    rows = []
    for p in range(n_persona):
        for c in range(n_cond):
            for r in range(n_run):
                u = (alpha + beta_price * np.log(prices[c]) + gamma_income * income[p]
                     + shock[p])
                e = np.exp(np.append(u, 0.0))
                mean = e / e.sum()
                s = rng.dirichlet(25.0 * mean)
                s[s < 0.01] = 0.0
                s = s / s.sum()
                choice = rng.choice(4, p=s)
                rows.append((p + 1, c + 1, r + 1, income[p], *prices[c], *s[:3], choice))
    wide = pd.DataFrame(rows, columns=["persona", "condition", "run", "income",
                                       "price_pampers", "price_huggies", "price_luvs",
                                       "s_pampers", "s_huggies", "s_luvs", "choice_code"])
    wide["s_none"] = 1.0 - (wide["s_pampers"] + wide["s_huggies"] + wide["s_luvs"])
    wide.loc[wide["s_none"].abs() < 1e-12, "s_none"] = 0.0
    wide["choice"] = np.array(BRANDS + ["none"])[wide.pop("choice_code")]
    wide.insert(0, "obs", np.arange(1, len(wide) + 1))
    wide["w"] = 1.0 + (np.arange(len(wide)) % 3) / 2.0
    long_rows = []
    for _, row in wide.iterrows():
        for b in BRANDS + ["none"]:
            long_rows.append({
                "obs": row["obs"], "brand": b,
                "price": row[f"price_{b}"] if b != "none" else 0.0,
                "belief": row[f"s_{b}"], "chosen": int(row["choice"] == b),
                "income": row["income"], "persona": row["persona"],
                "condition": row["condition"], "w": row["w"]})
    long = pd.DataFrame(long_rows)
    # a cost shifter to instrument the price with (deterministic, no random draw)
    inside = long["brand"] != "none"
    long["cost"] = np.where(inside, np.round(0.6 * long["price"]
                                              + 0.01 * ((long["condition"] * 7) % 5), 4), 0.0)
    for col in ["obs", "persona", "condition", "income", "chosen"]:
        long[col] = long[col].astype(np.int64)
    return wide, long


def main() -> None:
    wide, long = make()
    wide.to_csv(OUT / "diapers_wide.csv", index=False)
    long.to_csv(OUT / "diapers_long.csv", index=False)
    zeros = int((wide[["s_pampers", "s_huggies", "s_luvs", "s_none"]] == 0).sum().sum())
    print(f"diapers_wide.csv: {wide.shape}, {zeros} exact zero shares; "
          f"diapers_long.csv: {long.shape}")


if __name__ == "__main__":
    main()
