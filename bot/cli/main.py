"""The ``lanekeeper`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli import replay, serve, status, tabletop, validate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lanekeeper", description="Lanekeeper: validated incident summaries for settlement lanes."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate.add_parser(sub)
    serve.add_parser(sub)
    status.add_parsers(sub)
    tabletop.add_parsers(sub)
    replay.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # `lanekeeper ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
