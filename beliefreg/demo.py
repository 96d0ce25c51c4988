"""``beliefreg demo``: the package's main job.

Until the end-to-end demand study lands, it runs the estimation example on Papke's 401(k) data.
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser("demo", help="run the package's main example")
    parser.add_argument("--cov-type", default="cluster",
                        help="covariance type: HC0, HC1, cluster (by plan age), nonrobust")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import beliefreg as br
    from beliefreg.datasets import load_401k

    data = load_401k()
    formula = "prate01 ~ mrate + np.log(totemp) + age + I(age**2) + sole"
    kw = {"cov_kwds": {"groups": "age"}} if args.cov_type == "cluster" else {}
    print("Papke-Wooldridge 401(k) participation rates (fractional outcome in [0, 1])")
    res = br.FractionalLogit.from_formula(formula, data).fit(cov_type=args.cov_type, **kw)
    print(res.summary())
    return 0
