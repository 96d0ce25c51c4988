"""Write one ``## Section`` of benchmarks/RESULTS.md, leaving the other sections alone.

A section may end with notes written by hand (status against an issue's targets, where the
time goes): everything from a line starting with :data:`NOTES_MARKER` to the end of the
section. A rerun replaces the generated part above the marker and keeps the notes as they are;
it prints a reminder to re-read them against the new figures. A generated body may itself end
with the marker (so that a new section gets one); an existing section's notes win over it.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTES_MARKER = "<!-- notes"


def _split_notes(text: str) -> tuple[str, str]:
    """``(generated, notes)``: ``notes`` starts at the first line beginning with the marker."""
    match = re.search(rf"^{re.escape(NOTES_MARKER)}", text, re.M)
    if match is None:
        return text.rstrip(), ""
    return text[:match.start()].rstrip(), text[match.start():].strip()


def write_section(path: Path, title: str, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    generated, new_notes = _split_notes(body.strip())
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    old_notes = _split_notes(found.group(0))[1] if found else ""
    notes = old_notes or new_notes
    block = f"## {title}\n\n{generated}\n" + (f"\n{notes}\n" if notes else "")
    if found:
        text = text[:found.start()] + block + "\n" + text[found.end():]
        text = text.rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + block
    path.write_text(text)
    print(f"wrote section '{title}' of {path}")
    if old_notes:
        print(f"  kept {len(old_notes.splitlines())} lines of hand-written notes below the "
              f"marker: re-read them against the new figures")
