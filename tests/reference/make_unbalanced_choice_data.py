"""Write data/unbalanced_choice.csv: a seeded stated-choice study with unbalanced choice sets.

400 choice situations over four alternatives (brands a, b, c and "none"). Each situation
offers "none" and a random non-empty subset of the brands (a brand out of stock), so choice
sets have 2 to 4 alternatives. The attributes are the price (0 for "none") and a promotion
flag; the outcome is a 0/1 choice drawn from a conditional logit, and a belief share (the
logit probability mixed with Dirichlet noise, renormalised over the offered alternatives).
numpy + pandas only; run from the repository root.
"""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261130)
G = 400
brands = ["a", "b", "c", "none"]
const = {"a": 1.2, "b": 0.8, "c": 0.3, "none": 0.0}
rows = []
for g in range(G):
    offered = [b for b in ["a", "b", "c"] if rng.uniform() < 0.7]
    if not offered:
        offered = [str(rng.choice(["a", "b", "c"]))]
    offered.append("none")
    price = {b: (0.0 if b == "none" else round(float(rng.uniform(1.0, 3.0)), 2))
             for b in offered}
    promo = {b: (0 if b == "none" else int(rng.uniform() < 0.3)) for b in offered}
    u = np.array([const[b] - 1.1 * price[b] + 0.5 * promo[b] for b in offered])
    p = np.exp(u - u.max())
    p /= p.sum()
    chosen = rng.choice(len(offered), p=p)
    noise = rng.dirichlet(np.ones(len(offered)))
    belief = 0.85 * p + 0.15 * noise
    for j, b in enumerate(offered):
        rows.append({"obs": g + 1, "persona": g % 20 + 1, "brand": b, "price": price[b],
                     "promo": promo[b], "choice": int(j == chosen),
                     "belief": float(belief[j] / belief.sum())})
out = Path(__file__).parent / "data" / "unbalanced_choice.csv"
pd.DataFrame(rows).to_csv(out, index=False, float_format="%.17g")
print(f"wrote {out} ({len(rows)} rows, {G} situations)")
