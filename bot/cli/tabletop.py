"""``lanekeeper tabletop list|run`` and ``lanekeeper simulate``: drills without Slack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.config import SettingsError, load_settings
from bot.tabletop.scenario import Scenario, ScenarioError, bundled, load


def add_parsers(sub: Any) -> None:
    tabletop = sub.add_parser("tabletop", help="tabletop exercises: list the scenarios, run one offline")
    verbs = tabletop.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="the bundled scenarios, one line each")
    listing.set_defaults(run=_list)
    run = verbs.add_parser("run", help="run a scenario and write its after-action report")
    run.add_argument("scenario", help="a bundled scenario's name or a scenario YAML file")
    run.add_argument("--offline", action="store_true", help="no Slack: scripted responders, the channel as a transcript")
    run.add_argument("--channel", help="without --offline: the drill channel to post to (never the production one)")
    run.add_argument("--speed", type=float, default=1.0, help="without --offline: simulated seconds per real second")
    run.add_argument("--report", type=Path, help="write the after-action report (Markdown) here; default stdout")
    run.set_defaults(run=_run)
    made = verbs.add_parser("from-incident", help="a scenario replaying a resolved incident, its team's response as the baseline")
    made.add_argument("incident", metavar="INCIDENT", help="the incident's id or number (#7)")
    made.add_argument("--out", type=Path, metavar="SCENARIO.yaml", help="default ./from-INCIDENT.yaml; the events go beside it")
    made.add_argument("--anonymise", action="store_true", help="replace people, ids and alert texts (lanes stay)")
    made.set_defaults(run=_from_incident)
    simulate = sub.add_parser("simulate", help="write a scenario's simulated settlement events as NDJSON")
    simulate.add_argument("scenario", help="a bundled scenario's name or a scenario YAML file")
    simulate.add_argument("--out", type=Path, help="default stdout")
    simulate.set_defaults(run=_simulate)


def _list(_: argparse.Namespace) -> int:
    scenarios = bundled()
    width = max(len(name) for name in scenarios)
    for name, scenario in scenarios.items():
        print(f"{name:<{width}}  {scenario.description}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from bot.tabletop.report import render  # noqa: PLC0415 (the bot's stack loads only for a run)
    from bot.tabletop.runner import run_offline  # noqa: PLC0415

    try:
        scenario = load(args.scenario)
        if args.offline:
            print(f"running {scenario.name} offline ({scenario.duration} of simulated time) ...", file=sys.stderr)
            report = render(run_offline(scenario))
        else:
            report = _in_slack(scenario, args.channel, args.speed)
    except (ScenarioError, SettingsError, ValueError) as exc:  # DrillError is a ValueError
        print(f"lanekeeper tabletop run: {exc}", file=sys.stderr)
        return 2
    if args.report:
        args.report.write_text(report, encoding="utf-8")
        print(f"after-action report written to {args.report}", file=sys.stderr)
    else:
        print(report)
    return 0


def _in_slack(scenario: Scenario, channel: str | None, speed: float) -> str:
    """The drill posted to a drill channel, played by the scenario's scripted responders
    (people in the channel act through the server, with ``/tabletop start`` there)."""
    from slack_sdk import WebClient  # noqa: PLC0415

    from bot.tabletop.live import LiveDrills  # noqa: PLC0415

    settings = load_settings()
    if settings.slack_bot_token is None or channel is None:
        raise SettingsError("a drill in Slack needs SLACK_BOT_TOKEN and --channel (or use --offline)")
    drills = LiveDrills(
        WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url), settings.channel
    )
    print(drills.start(channel, channel, scenario, speed, "lanekeeper-cli"), file=sys.stderr)
    return drills.wait(channel)


def _from_incident(args: argparse.Namespace) -> int:
    """0: written; 1: no such incident, or one that cannot be a drill; 2: the store or the files."""
    from bot.tabletop.made import write_from_incident  # noqa: PLC0415 (the store's stack loads only here)

    return write_from_incident(args.incident, args.out, anonymise=args.anonymise)


def _simulate(args: argparse.Namespace) -> int:
    from bot.tabletop.runner import world_lines  # noqa: PLC0415

    try:
        scenario = load(args.scenario)
    except ScenarioError as exc:
        print(f"lanekeeper simulate: {exc}", file=sys.stderr)
        return 2
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        count = 0
        for line in world_lines(scenario):
            out.write(line)
            count += 1
    finally:
        if args.out:
            out.close()
    print(f"{count:,} events simulated for {scenario.name}", file=sys.stderr)
    return 0
