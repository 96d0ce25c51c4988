"""Write tests/reference/data/demand.csv: a simulated LLM purchase study (deterministic).

16 prices (20 to 50 cents, as in a diaper-pricing study), 3 personas, an ``organic`` attribute
and 6 runs per cell (576 rows). The "belief" (purchase probability read from log-probabilities)
is Beta-distributed around a logit in log price:

    eta = 9 - 2.6 log(price) + 0.45 organic + persona effect (parent 0.3, retiree 0, student -0.35)
    belief ~ Beta(15 mu, 15 (1 - mu)),  mu = expit(eta)

``prompt`` (persona x run, 18 groups) is the natural cluster. Beliefs are rounded to 1e-6 so
the CSV is short and R and Python read the same doubles.

Run:  python tests/reference/make_demand_data.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "data" / "demand.csv"


def make_demand(seed: int = 20251229) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    persona_effect = {"parent": 0.3, "retiree": 0.0, "student": -0.35}
    rows = []
    for price in np.arange(20.0, 51.0, 2.0):
        for persona, shift in persona_effect.items():
            for organic in (0, 1):
                for run in range(1, 7):
                    eta = 9.0 - 2.6 * np.log(price) + 0.45 * organic + shift
                    mu = 1.0 / (1.0 + np.exp(-eta))
                    belief = float(np.round(rng.beta(15 * mu, 15 * (1 - mu)), 6))
                    rows.append({"price": price, "persona": persona, "organic": organic,
                                 "run": run, "prompt": f"{persona}-{run}", "belief": belief})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    d = make_demand()
    d.to_csv(OUT, index=False)
    print(f"wrote {OUT}: {len(d)} rows, belief in [{d.belief.min()}, {d.belief.max()}]")
