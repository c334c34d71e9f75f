"""``make demo``: the product's point in one run, on the embedded defaults, no key needed.

First a bundled scenario is replayed through the whole pipeline (``lanekeeper replay``): an
l2-arb failure spike, an incident, the facts card at once, an AI proposal with a wrong
figure caught and re-asked (a recorded LLM answering through the real openai client), the
validated summary and a rollback suggestion with its buttons. Then the same validators as
a CI gate: the contract's example proposals through ``lanekeeper validate``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bot.cli.main import main as lanekeeper
from bot.replay.run import print_channel, replay

EXAMPLE = Path(os.path.relpath(Path(__file__).resolve().parent.parent.parent / "examples" / "contract"))
SCENARIO = Path(os.path.relpath(Path(__file__).with_name("l2-arb-rollback.yaml")))


def replay_demo() -> int:
    print(f"Lanekeeper demo, part 1: `lanekeeper replay {SCENARIO}`\n")
    result = replay(str(SCENARIO), recording_only=True)
    print("\nThe incident channel, as people would read it:")
    print_channel(result.calls)
    print(f"\nBehind it, the audit trail ({len(result.attempts)} LLM calls, `lanekeeper incidents ID` shows them):")
    for call in result.attempts:
        print(f"  attempt {call['attempt']}: {call['outcome']}")
        for violation in (call["report"] or {}).get("violations", []):
            print(f"    {violation['code']} at {violation['path']}: {violation['message']}")
    print("  The rejected proposal never reached the channel; the model was re-asked with those findings.\n")
    return 0 if [c["outcome"] for c in result.attempts] == ["rejected", "validated"] else 1


def run() -> int:
    code = replay_demo()
    return validate_examples() or code


def validate_examples(example: Path = EXAMPLE) -> int:
    expected: dict[str, str] = json.loads((example / "expected.json").read_text())
    print(f"Lanekeeper demo, part 2: the validators as a CI gate, on {len(expected)} example proposals")
    print(f"  events: {example / 'events.ndjson'}\n  policy: {example / 'policy.yaml'}\n")
    surprises = 0
    for name, want in expected.items():
        print(f"$ lanekeeper validate --events events.ndjson --policy policy.yaml --summary {name} --format text")
        code = lanekeeper(
            [
                "validate",
                "--events",
                str(example / "events.ndjson"),
                "--policy",
                str(example / "policy.yaml"),
                "--summary",
                str(example / name),
                "--format",
                "text",
            ]
        )
        verdict = "passes" if code == 0 else "is withheld"
        print(f"  -> exit {code}: this proposal {verdict} (expected: {want})\n")
        surprises += (code == 0) != (want == "ok")
    print("Nothing an AI wrote reaches the channel until these checks pass.")
    return 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(run())
