"""``lanekeeper replay PATH [--speed X] [--transcript OUT.json]`` (contract §6)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.config import SettingsError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("replay", help="the whole pipeline on a recorded or simulated scenario, no Slack needed")
    parser.add_argument("path", help="a recorded scenario directory, a scenario YAML file or a bundled scenario's name")
    parser.add_argument("--speed", type=float, help="simulated seconds per real second (default: as fast as it goes)")
    parser.add_argument("--transcript", type=Path, help="write every Slack Web API call it would have made, as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bot.replay.run import ReplayError, print_channel, replay  # noqa: PLC0415 (loads the bot only to run)

    try:
        result = replay(args.path, speed=args.speed, transcript=args.transcript)
    except (ReplayError, SettingsError) as exc:
        print(f"lanekeeper replay: {exc}", file=sys.stderr)
        return 2
    print_channel(result.calls)
    outcomes = [a["outcome"] for a in result.attempts]
    print(f"\n{result.events:,} events replayed in {result.seconds:.1f} s; {len(result.calls)} Slack calls", end="")
    print(f"; LLM attempts: {', '.join(outcomes) or 'none'}")
    if args.transcript:
        print(f"transcript of the Slack calls: {args.transcript}")
    return 0
