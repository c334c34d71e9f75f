"""``make demo``: the bundled contract example through ``lanekeeper validate``.

Shows the product's promise on real data: one proposal that is grounded in the events and
the policy passes, and six that each get one thing wrong are stopped with the reason.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bot.cli.main import main as lanekeeper

EXAMPLE = Path(os.path.relpath(Path(__file__).resolve().parent.parent / "examples" / "contract"))


def run(example: Path = EXAMPLE) -> int:
    expected: dict[str, str] = json.loads((example / "expected.json").read_text())
    print(f"Lanekeeper demo: validating {len(expected)} LLM summary proposals against the raw events")
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
