"""Small synthetic data sets shared by the post-estimation tests (fast: a few hundred rows)."""

import numpy as np
import pandas as pd
import pytest

import beliefreg as br


def make_study(n_rep: int = 4, seed: int = 7) -> pd.DataFrame:
    """A purchase study: price (16 levels), income (continuous), organic (0/1), persona."""
    rng = np.random.default_rng(seed)
    rows = []
    shift = {"parent": 0.3, "retiree": 0.0, "student": -0.35}
    for price in np.arange(20.0, 51.0, 2.0):
        for persona, s in shift.items():
            for organic in (0, 1):
                for _ in range(n_rep):
                    income = rng.uniform(1.0, 5.0)
                    eta = 8.0 - 2.5 * np.log(price) + 0.4 * organic + s + 0.15 * income \
                        - 0.1 * organic * np.log(price) / 3
                    mu = 1.0 / (1.0 + np.exp(-eta))
                    rows.append({"price": price, "persona": persona, "organic": organic,
                                 "income": income, "belief": rng.beta(15 * mu, 15 * (1 - mu)),
                                 "w": rng.uniform(0.5, 2.0)})
    d = pd.DataFrame(rows)
    d["choice"] = (rng.uniform(size=len(d)) < d["belief"]).astype(int)
    return d


FORMULA = ("belief ~ np.log(price) + organic + organic:np.log(price) + income + I(income**2)"
           " + persona")


@pytest.fixture(scope="session")
def study():
    return make_study()


@pytest.fixture(scope="session", params=["logit", "probit"])
def fitted(request, study):
    model = {"logit": br.FractionalLogit, "probit": br.FractionalProbit}[request.param]
    return model.from_formula(FORMULA, study).fit(cov_type="cluster",
                                                  cov_kwds={"groups": "persona"})


@pytest.fixture(scope="session")
def weighted(study):
    return br.FractionalProbit.from_formula(FORMULA, study, weights="w").fit()
