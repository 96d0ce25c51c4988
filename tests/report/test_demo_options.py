"""``beliefreg demo`` refuses bad options before anything is simulated (nothing is paid)."""

from __future__ import annotations

import pytest

from beliefreg.cli import main


@pytest.mark.parametrize("args, message", [
    (["--n-boot", "0"], "--n-boot must be a positive integer, got 0"),
    (["--out", "{file}"], "exists and is not a folder"),
    (["--out", "{file}/report"], "is under a file"),
])
def test_bad_options_are_refused_before_simulating(tmp_path, capsys, args, message):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    args = [a.replace("{file}", str(a_file)) for a in args]
    # the openai backend without a key or server: reaching the simulation would fail otherwise
    status = main(["demo", "--backend", "openai", "--model", "m", "--store", "none", *args])
    err = capsys.readouterr().err
    assert status == 1 and message in err
    assert "requests" not in err  # refused before the study was planned or announced
