"""The README's post-estimation worked example runs and prints what the README shows."""

import contextlib
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).parents[1] / "README.md"


def test_postestimation_example_output_matches_readme():
    text = README.read_text()
    section = text.split("## Worked example: elasticity, demand curve", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    import matplotlib.pyplot as plt
    plt.close("all")
    assert out.getvalue().strip() == shown.strip()
