"""Shared fixtures: the simulated diaper-brand belief data and the R reference numbers."""

import json
from pathlib import Path

import pandas as pd
import pytest

REF = Path(__file__).parents[1] / "reference"


def read_csv(name: str) -> pd.DataFrame:
    # pandas >= 3 reads floats round-trip exactly by default; pandas 2 needs asking
    kw = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    return pd.read_csv(REF / "data" / name, **kw)


@pytest.fixture(scope="session")
def wide() -> pd.DataFrame:
    return read_csv("diapers_wide.csv")


@pytest.fixture(scope="session")
def long() -> pd.DataFrame:
    return read_csv("diapers_long.csv")


@pytest.fixture(scope="session")
def reference() -> dict:
    return json.loads((REF / "multinomial.json").read_text())
