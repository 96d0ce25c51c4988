"""The built wheel works on its own: installed into a fresh venv outside the repository.

The wheel is built from a copy of the project (so the checkout gets no build folders), then
installed with ``--no-deps`` into a new virtual environment whose only other path is the test
environment's site-packages (for numpy, pandas, ...). Paths listed in a ``.pth`` file are not
processed as site folders, so the checkout's editable install is not active there: every import
below must come from the wheel. Each check runs with the working directory outside the checkout
and without ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

WORKTREE = Path(__file__).resolve().parents[2]


def _run(args, *, cwd, env, timeout=600):
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"{args}\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("packaging")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(WORKTREE / name, src / name)
    shutil.copytree(WORKTREE / "beliefreg", src / "beliefreg",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
         cwd=root, env=env)
    wheels = list(dist.glob("beliefreg-*.whl"))
    assert len(wheels) == 1
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root, env=env)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
          str(wheels[0])], cwd=root, env=env)
    purelib = Path(_run([str(python), "-c",
                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=root, env=env).strip())
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]]]
    (purelib / "_beliefreg_test_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    work = root / "elsewhere"
    work.mkdir()
    return venv, work, env


def test_the_package_comes_from_the_wheel(wheel_venv):
    venv, work, env = wheel_venv
    out = _run([str(venv / "bin" / "python"), "-c",
                "import beliefreg, pathlib; p = pathlib.Path(beliefreg.__file__).parent;"
                "print(p); print((p / 'py.typed').is_file())"], cwd=work, env=env)
    location, typed = out.split()
    assert location.startswith(str(venv)), location
    assert typed == "True"


def test_commands_from_the_wheel(wheel_venv):
    venv, work, env = wheel_venv
    out = _run([str(venv / "bin" / "beliefreg"), "demo", "--help"], cwd=work, env=env)
    assert "usage: beliefreg demo" in out
    out = _run([str(venv / "bin" / "python"), "-m", "beliefreg", "--help"], cwd=work, env=env)
    assert "usage: beliefreg" in out and "simulate" in out
    out = _run([str(venv / "bin" / "python"), "-m", "beliefreg", "simulate", "--help"],
               cwd=work, env=env)
    assert "beliefreg.simulation.load_study" in out


def test_modules_and_data_from_the_wheel(wheel_venv):
    venv, work, env = wheel_venv
    code = ("import beliefreg.simulation.store, beliefreg.simulation.backends.local;"
            "from beliefreg.datasets import load_401k;"
            "import beliefreg; help_ok = beliefreg.simulation.load_study.__doc__ is not None;"
            "print(load_401k().shape, help_ok, callable(beliefreg.simulate))")
    out = _run([str(venv / "bin" / "python"), "-c", code], cwd=work, env=env)
    assert out.strip() == "(1534, 9) True True"
