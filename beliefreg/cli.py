"""The ``beliefreg`` command line.

Subcommands register themselves through a function ``register(subparsers)`` named in
:data:`SUBCOMMANDS` (``"module:function"``), imported only when the parser is built. The
function adds its parser and sets ``func`` (``func(args) -> int``) as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser", "SUBCOMMANDS", "DEMOS"]

#: Further studies of ``beliefreg demo NAME [options]``: NAME -> ``"module:main"``, where
#: ``main(argv) -> int`` parses the rest of the command line itself.
DEMOS: dict[str, str] = {
    "calibration": "beliefreg.calibration.demo:main",
}

#: Registration functions of the subcommands, in help order.
SUBCOMMANDS: list[str] = [
    "beliefreg.report.demo:register",
    "beliefreg.report:register",
    "beliefreg.simulation.cli:register",
    "beliefreg.simulation.cli:register_batch",
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    from beliefreg import __version__

    parser = argparse.ArgumentParser(
        prog="beliefreg",
        description="Econometrics on LLM-simulated choice data: model belief and model choice.",
    )
    parser.add_argument("--version", action="version", version=f"beliefreg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for spec in SUBCOMMANDS:
        module, _, func = spec.partition(":")
        getattr(importlib.import_module(module), func)(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "demo" and argv[1] in DEMOS:
        module, _, func = DEMOS[argv[1]].partition(":")
        try:
            return int(getattr(importlib.import_module(module), func)(argv[2:]) or 0)
        except KeyboardInterrupt:
            return 130
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv  # the command as typed (the report header repeats it)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
