"""The ``beliefreg`` command line.

``beliefreg demo`` runs the package's main job. Subcommands register themselves in
:data:`SUBCOMMANDS` (a name -> (help, add_arguments, run) table), so each lives with its code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

__all__ = ["main", "SUBCOMMANDS"]

AddArguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cov-type", default="cluster",
                        help="covariance type: HC0, HC1, cluster (by plan age), nonrobust")


def _demo(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: F401  (used by the formula)

    import beliefreg as br
    from beliefreg.datasets import load_401k

    data = load_401k()
    formula = "prate01 ~ mrate + np.log(totemp) + age + I(age**2) + sole"
    kw = {"cov_kwds": {"groups": "age"}} if args.cov_type == "cluster" else {}
    print("Papke-Wooldridge 401(k) participation rates (fractional outcome in [0, 1])")
    print(f">>> br.FractionalLogit.from_formula({formula!r}, data).fit(cov_type={args.cov_type!r})")
    res = br.FractionalLogit.from_formula(formula, data, eval_env=0).fit(cov_type=args.cov_type, **kw)
    print(res.summary())
    return 0


SUBCOMMANDS: dict[str, tuple[str, AddArguments, Run]] = {
    "demo": ("run the package's main example", _demo_arguments, _demo),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="beliefreg", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in SUBCOMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text))
    args = parser.parse_args(argv)
    return SUBCOMMANDS[args.command][2](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
