"""benchmarks/_results.py: a rerun replaces a section's generated part and keeps its hand notes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "_results.py"
_spec = importlib.util.spec_from_file_location("benchmark_results", _PATH)
results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results)


def test_rerun_keeps_the_notes_below_the_marker_and_the_other_sections(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## A\n\nold a\n\n## Limits\n\n| old table |\n\n"
                    "<!-- notes are kept by hand -->\n\n**Status**: not met, 4.2x.\n\n"
                    "* where the time goes\n\n## C\n\nc\n")
    results.write_section(path, "Limits", "| new table |\n\n<!-- notes are kept by hand -->")
    text = path.read_text()
    assert "| new table |" in text and "| old table |" not in text
    assert "**Status**: not met, 4.2x.\n\n* where the time goes\n" in text
    assert text.count(results.NOTES_MARKER) == 1
    assert text.index("## A") < text.index("## Limits") < text.index("**Status**") < text.index(
        "## C")
    assert "old a" in text and "\nc\n" in text


def test_a_new_section_gets_the_generated_marker_and_a_section_without_notes_none(tmp_path):
    path = tmp_path / "RESULTS.md"
    results.write_section(path, "New", "body\n\n<!-- notes below -->")
    results.write_section(path, "Plain", "plain body")
    results.write_section(path, "Plain", "plain body 2")
    text = path.read_text()
    assert text.startswith("# Benchmark results\n\n## New\n\nbody\n\n<!-- notes below -->\n")
    assert text.endswith("## Plain\n\nplain body 2\n")
    assert results.NOTES_MARKER not in text.split("## Plain")[1]
