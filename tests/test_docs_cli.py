"""The README names every command ``lanekeeper --help`` lists, and each of their actions:
a newcomer reads the README, not the parser."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.main import COMMANDS, build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # argparse offers no public walk of its subparsers
        if isinstance(action, argparse._SubParsersAction):
            found |= dict(action.choices)
    return found


def test_every_command_and_action_the_cli_offers_is_in_the_readme() -> None:
    commands = _subcommands(build_parser())
    assert set(commands) == set(COMMANDS)
    named = [f"lanekeeper {name}" for name in commands]
    named += [f"lanekeeper {name} {action}" for name, parser in commands.items() for action in _subcommands(parser)]
    missing = [words for words in named if words not in README]
    assert not missing, f"the README does not name: {missing}"
