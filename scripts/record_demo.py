"""Record the LLM answers ``make demo`` replays (run after changing the demo scenario or
the prompt): a stand-in model reads each prompt's facts sheet and answers as a model that
first gets a figure wrong, then corrects it and proposes the rollback the policy allows.
The answers are saved beside the scenario as ``NAME.llm.json``; the replay then needs no key.

    .venv/bin/python scripts/record_demo.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakes import FakeOpenAI, Reply, honest_proposal, read_prompt, running  # noqa: E402

from bot.replay.run import replay  # noqa: E402

SCENARIO = ROOT / "bot" / "demo" / "l2-arb-rollback.yaml"


def model(request: dict[str, Any], answers: list[dict[str, Any]]) -> Reply:
    seen = read_prompt(request)
    lane = seen["lanes"][0]
    facts = seen["facts"][lane]
    rate = facts["failure_rate"]["value"]
    failed = facts["failed"]["value"]
    reason = f"failure rate {rate * 100:.2f}% is above the 2% rollback trigger"
    action = {"kind": "rollback", "lane": lane, "reason": reason, "evidence": facts["failed"]["evidence"][:2]}
    wrong = len(answers) == 0  # the first answer inflates the count, as models do
    doc = honest_proposal(request, failed=failed * 3 if wrong else None, actions=[action])
    doc["claims"].append(
        {
            "text": f"{rate * 100:.2f}% of settled l2-arb settlements failed",
            "lane": lane,
            "fact": "failure_rate",
            "value": rate,
            "evidence": facts["failure_rate"]["evidence"][:2],
        }
    )
    answer = {"content": json.dumps(doc), "finish_reason": "stop", "prompt_tokens": len(json.dumps(request)) // 4}
    answers.append(answer)
    return Reply(content=answer["content"])


def main() -> None:
    answers: list[dict[str, Any]] = []
    with running(FakeOpenAI(responder=lambda request: model(request, answers))) as llm:
        os.environ.update(OPENAI_API_KEY="recording", OPENAI_BASE_URL=llm.url, LANEKEEPER_MODEL="demo-recorded-model")
        result = replay(str(SCENARIO))
    outcomes = [a["outcome"] for a in result.attempts]
    assert outcomes == ["rejected", "validated"], outcomes
    out = SCENARIO.with_suffix(".llm.json")
    out.write_text(json.dumps({"model": "demo-recorded-model", "answers": answers}, indent=2) + "\n")
    print(f"recorded {len(answers)} answers ({', '.join(outcomes)}) to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
