"""The README's worked example is real: its code runs and prints exactly the output shown."""

import contextlib
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the post-estimation example draws a demand plot

README = Path(__file__).parents[1] / "README.md"


def _example_blocks() -> list[tuple[str, str]]:
    """Each ```python block immediately followed by a ```text block (its printed output)."""
    text = README.read_text()
    # the code may not contain a fence: a python block without output is not paired with the
    # output of a later block
    pattern = re.compile(r"```python\n((?:(?!```).)*?)```\s*\n```text\n(.*?)```", re.S)
    return pattern.findall(text)


def test_readme_examples_print_what_the_readme_shows():
    blocks = _example_blocks()
    assert blocks, "the README has no python example with its output"
    for code, shown in blocks:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
        import matplotlib.pyplot as plt

        plt.close("all")
        printed = [line.rstrip() for line in buffer.getvalue().strip().splitlines()]
        expected = [line.rstrip() for line in shown.strip().splitlines()]
        assert printed == expected


def test_quickstart_has_exactly_two_commands():
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_panel_schema_lists_every_panel_column():
    """The README's panel table is the schema's one source of truth: it names every column."""
    from beliefreg.simulation.panel import META_COLUMNS

    section = README.read_text().split("### The panel", 1)[1].split("\n#### ", 1)[0]
    named = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            named |= set(re.findall(r"`([a-z_<>]+)`", line.split("|")[1]))
    assert set(META_COLUMNS) | {"belief_<alt>"} == named


def test_readme_model_tables_name_every_required_argument():
    """A class in the README's model tables is documented with every keyword its
    ``from_formula`` requires (``ConditionalLogit`` named ``groups=`` but not
    ``alternatives=``, which a user then met as a TypeError)."""
    import inspect

    import beliefreg as br

    rows = {}
    for line in README.read_text().splitlines():
        m = re.match(r"\| `(\w+)` \|", line)
        if m and inspect.isclass(getattr(br, m.group(1), None)):
            rows[m.group(1)] = line
    assert {"ConditionalLogit", "MultinomialFractionalLogit", "FractionalLogit"} <= set(rows)
    for name, row in rows.items():
        params = inspect.signature(getattr(br, name).from_formula).parameters.values()
        required = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
        missing = [p for p in required if f"`{p}=`" not in row]
        assert not missing, f"the README's row for {name} does not name {missing}"
