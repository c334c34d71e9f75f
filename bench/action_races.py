"""Benchmark: simultaneous clicks on one action, by the thousand, on each store.

Goal (issue 14): 0 double executions in 1,000 races per store. Each race is a new rollback
suggestion (a new action, a new message) on a real bot with its slack-bolt app; clicks are
requests signed as Slack signs them, released together by a barrier, in four shapes taken
in turn: one approval in then two approvers at once; one approval in then an approve and a
reject at once; an approve and a reject at once; ten approvers at once. The action webhook
is a loopback server counting calls per idempotency key. After all races, every action is
judged: called more than once (a double execution), executed without a call, called but
not executed (nor unknown), rejected but called, or in a status outside the lifecycle.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from races import SCENARIOS, race_world  # noqa: E402
from stores import store  # noqa: E402

GOAL_DOUBLE = 0


def run(store_name: str, rounds: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix=f"lanekeeper-races-{store_name}-") as work,
        store(store_name, Path(work)) as url,
        race_world(url, Path(work)) as world,
    ):
        started = time.perf_counter()
        for done, scenario in enumerate(islice(cycle(SCENARIOS), rounds), start=1):
            world.round(scenario)
            if done % 100 == 0:
                print(f"{store_name}: {done}/{rounds} races", file=sys.stderr, flush=True)
        seconds = time.perf_counter() - started
        tally = world.settle()
        return tally.as_json() | {
            "seconds": round(seconds, 1),
            "webhook_calls": sum(world.receiver.calls.values()),
            "bad_signatures": world.receiver.bad_signatures,
            "defects": tally.defects,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000, help="races per store (default 1000)")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bot").setLevel(logging.ERROR)  # refused clicks are expected here, by the hundred
    figures: dict[str, Any] = {"rounds_per_store": args.rounds, "goal_double_executions": GOAL_DOUBLE}
    for name in args.stores.split(","):
        figures[name] = run(name, args.rounds)
        r = figures[name]
        print(
            f"{name}: {r['rounds']} races in {r['seconds']} s, outcomes {r['outcomes']}, "
            f"{r['webhook_calls']} webhook calls, double executions {r['double_executions']}, defects {r['defects']}",
            file=sys.stderr,
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if any(figures[n]["defects"] for n in args.stores.split(",")):
        raise SystemExit("defects found: see the figures above")


if __name__ == "__main__":
    main()
