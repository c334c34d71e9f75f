"""The ``lanekeeper`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "validate": "bot.cli.validate",
    "serve": "bot.cli.serve",
    "db": "bot.cli.db",
    "lanes": "bot.cli.status",
    "incidents": "bot.cli.status",
    "tabletop": "bot.cli.tabletop",
    "simulate": "bot.cli.tabletop",
    "replay": "bot.cli.replay",
    "settlement": "bot.cli.settlement",
    "postmortem": "bot.cli.postmortem",
}
"""Each command's module; only the one a command line names is imported, so that
``lanekeeper validate`` in a CI job does not pay for the server's stack."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lanekeeper", description="Lanekeeper: validated incident summaries for settlement lanes."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in names:
        module = importlib.import_module(name)
        (getattr(module, "add_parsers", None) or module.add_parser)(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # `lanekeeper ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
