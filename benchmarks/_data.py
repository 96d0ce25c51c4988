"""The estimation benchmarks' data: a fractional outcome with a logit mean, K regressors.

numpy is imported inside :func:`make_data`, so importing this module leaves the BLAS thread
settings to the script (``_threads`` pins them; ``limits.py`` compares pinned and unpinned).
"""

K = 20
N_CLUSTERS = 1000


def make_data(n: int, seed: int = 0):
    """``(y, x, groups)``: n rows, a constant and K - 1 normal regressors, beta outcomes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, K - 1))])
    beta = rng.normal(scale=0.2, size=K)
    mu = 1.0 / (1.0 + np.exp(-x @ beta))
    y = rng.beta(mu * 5 + 0.01, (1 - mu) * 5 + 0.01)
    groups = rng.integers(0, N_CLUSTERS, n)
    return y, x, groups
