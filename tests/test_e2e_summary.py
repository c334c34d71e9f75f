"""End to end through a real ``lanekeeper serve`` process: an alert in, the facts card out
at once, then the validated summary in its place, over loopback Slack and OpenAI fakes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from fakes import FakeOpenAI, FakeSlack, answer, honest_proposal, running
from helpers import wait_for
from server import ServerProcess, bot_env
from test_summaries import alertmanager, incident_events


def test_alert_in_facts_card_out_then_the_validated_summary_replaces_it(tmp_path: Path) -> None:
    lies_first = {"n": 0}

    def model(request: dict) -> object:
        lies_first["n"] += 1
        return answer(honest_proposal(request, failed=8 if lies_first["n"] == 1 else None))

    with running(FakeOpenAI(responder=model)) as llm, running(FakeSlack()) as slack:
        env = bot_env(f"sqlite:///{tmp_path / 'e2e.db'}", slack.url, llm.url, LANEKEEPER_CHANNEL="#settlement-incidents")
        server = ServerProcess(env, tmp_path / "server.log").start()
        try:
            assert httpx.post(server.url + "/events", content=incident_events()).json()["stored"] == 42
            incident = httpx.post(server.url + "/webhooks/alertmanager", content=alertmanager()).json()["incidents"][0]
            wait_for(lambda: slack.of("chat.postMessage"), timeout=20)
            card = slack.of("chat.postMessage")[0]
            assert card.args["metadata"]["event_payload"] == {"incident_id": incident, "purpose": "card"}
            wait_for(lambda: slack.of("chat.update"), timeout=20)
            summary = json.dumps(slack.of("chat.update")[0].args["blocks"], ensure_ascii=False)
            assert "l2-arb settlement failures: 5 failed" in summary
            assert "8 failed" not in slack.everything()
            assert len(llm.requests) == 2
            detail = httpx.get(f"{server.url}/incidents/{incident}").json()
            assert [a["outcome"] for a in detail["llm_attempts"]] == ["rejected", "validated"]
        finally:
            server.stop()
