"""The postmortem draft: read from the store, its narrative the only part the LLM writes and
shown only when the validators passed it; from the CLI (never creating a store) and from
the "Draft postmortem" button of a resolved card (a file in the incident's thread)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import Reply, answer, honest_proposal, rollback_proposal
from helpers import wait_for
from test_slack_app import ONCALL, Slack, slack_world
from test_summaries import World

from bot.cli.main import main
from bot.postmortem.record import load_record
from bot.postmortem.times import response_times
from bot.slack.cards import ACK, POSTMORTEM, RESOLVE

NARRATIVE_ASKED = "postmortem narrative"


def narrating(narrative: Any) -> Any:
    """A model that summarizes as usual and answers a narrative request with ``narrative``."""

    def respond(request: dict[str, Any]) -> Reply:
        if any(NARRATIVE_ASKED in m["content"] for m in request["messages"] if m["role"] == "user"):
            return answer(narrative(request))
        return rollback_proposal(request)

    return respond


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from slack_world(database_url)


@pytest.fixture
def slack(world: World) -> Slack:
    return Slack(world)


def resolved(world: World, slack: Slack, opened: str | None = None) -> str:
    """The test incident (``opened``, or opened now) acknowledged, then resolved after the
    policy's quiet time."""
    incident_id = opened or world.open_incident()
    slack.click(ACK, incident_id, ONCALL)
    wait_for(lambda: world.bot.desk.show(incident_id).summary.acked_by)
    world.clock.advance(400)
    world.bot.desk.resolve(incident_id, ONCALL)
    world.bot.drain()
    return incident_id


def test_a_planted_wrong_figure_in_the_narrative_is_refused_and_the_draft_is_facts_only(world: World, slack: Slack) -> None:
    incident_id = resolved(world, slack)
    world.llm.responder = narrating(lambda r: honest_proposal(r, failed=9, status="mitigated"))
    made = world.bot.drafter().draft(incident_id)
    assert made.facts_only
    refused = "> **Facts only**: no narrative (3 narratives failed validation (last: fact.mismatch, number.ungrounded))"
    assert refused in made.markdown
    assert "9 settlements failed" not in made.markdown
    assert "## Narrative" not in made.markdown
    assert "| l2-arb | 5 | $5K | 0 | $0 | 25% |" in made.markdown  # the computed impact is there all the same


def test_a_grounded_narrative_is_shown_with_the_facts(world: World, slack: Slack) -> None:
    incident_id = resolved(world, slack)
    world.llm.responder = narrating(lambda r: honest_proposal(r, status="mitigated"))
    made = world.bot.drafter().draft(incident_id)
    assert not made.facts_only
    assert "## Narrative\n\n**l2-arb settlement failures: 5 failed**\n\n- 5 settlements failed on l2-arb" in made.markdown
    assert "Facts only" not in made.markdown


def test_a_response_time_is_grounded_in_the_narrative_and_a_made_up_one_is_not(world: World, slack: Slack) -> None:
    incident_id = resolved(world, slack)
    times = response_times(load_record(world.bot.engine, world.bot.policy, incident_id, world.bot.settings.lookback))
    ack = dict(times.steps())["acknowledge"]
    assert ack is not None

    def saying(seconds: int) -> Any:
        def narrative(request: dict[str, Any]) -> dict[str, Any]:
            doc = honest_proposal(request, status="mitigated")
            doc["claims"][0]["text"] = f"On-call acknowledged {seconds} s after the first alert; 5 settlements failed on l2-arb"
            return doc

        return narrative

    world.llm.responder = narrating(saying(round(ack)))
    assert not world.bot.drafter().draft(incident_id).facts_only
    world.llm.responder = narrating(saying(round(ack) + 4321))
    made = world.bot.drafter().draft(incident_id)
    assert made.facts_only
    assert "number.ungrounded" in made.markdown


def test_the_draft_has_the_timeline_impact_response_times_and_validated_summaries(world: World, slack: Slack) -> None:
    incident_id = resolved(world, slack)
    made = world.bot.drafter().draft(incident_id)
    text = made.markdown
    assert text.startswith("# Postmortem draft: #1 SettlementFailures on l2-arb\n")
    assert "| alert.firing | - | name: SettlementFailures, lane: l2-arb |" in text
    assert f"| incident.acknowledged | {ONCALL} | - |" in text
    assert f"| incident.resolved | {ONCALL} |" in text
    assert "| rollback l2-arb |" in text  # the validated summary's suggestion, with its status
    assert "| detect on l2-arb | 2026-03-02 14:00:20Z → 2026-03-02 14:10:00Z | 10 min |" in text  # first failure, its alert
    assert "| acknowledge | 2026-03-02 14:10:2" in text
    assert f" by {ONCALL} | 2" in text
    assert "| mitigate | - | never |" in text
    assert "**l2-arb settlement failures: 5 failed**\n  - 5 settlements failed on l2-arb" in text  # the validated summary


def test_the_draft_postmortem_button_posts_the_draft_as_a_file_in_the_incidents_thread(world: World, slack: Slack) -> None:
    incident_id = resolved(world, slack)
    world.llm.responder = narrating(lambda r: honest_proposal(r, status="mitigated"))
    card_ts = world.slack.history[0]["ts"]
    last = [c for c in world.slack.calls if c.method == "chat.update" and c.args.get("ts") == card_ts][-1]
    assert f'"action_id": "{POSTMORTEM}"' in json.dumps(last.args["blocks"])  # the resolved card offers it
    assert f'"{RESOLVE}"' not in json.dumps(last.args["blocks"])
    slack.click(POSTMORTEM, incident_id, ONCALL)
    [complete] = wait_for(lambda: world.slack.of("files.completeUploadExternal"))
    [asked] = world.slack.of("files.getUploadURLExternal")
    assert asked.args["filename"] == "postmortem-1.md"
    assert complete.args["thread_ts"] == card_ts
    assert complete.args["channel_id"] == "C0INCIDENT"
    assert json.loads(complete.args["files"])[0]["title"] == "Postmortem draft #1 (with a validated narrative)"
    [content] = world.slack.uploads.values()
    assert content.decode().startswith("# Postmortem draft: #1 ")
    assert "## Narrative" in content.decode()


def test_the_button_on_an_open_incident_is_refused_to_the_clicker(world: World, slack: Slack) -> None:
    incident_id = world.open_incident()
    slack.click(POSTMORTEM, incident_id, ONCALL)
    [refused] = wait_for(slack.responses)
    assert refused.args["text"] == "No postmortem draft for #1: it is not resolved yet."
    assert refused.args["response_type"] == "ephemeral"
    assert not world.slack.of("files.getUploadURLExternal")


def test_the_cli_writes_a_facts_only_draft_without_an_llm(
    world: World, slack: Slack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resolved(world, slack)
    monkeypatch.chdir(tmp_path)  # no developer's .env is read
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", world.bot.settings.database_url)
    out = tmp_path / "pm.md"
    assert main(["postmortem", "#1", "--out", str(out)]) == 0
    assert "postmortem of #1: facts-only draft written to" in capsys.readouterr().err
    text = out.read_text()
    assert "> **Facts only**: no narrative (no LLM is configured)." in text
    assert "## Impact per lane" in text
    assert main(["postmortem", "#7"]) == 1
    assert capsys.readouterr().err == "lanekeeper postmortem: no incident #7\n"


def test_the_cli_never_creates_a_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nothing-here.db"
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", f"sqlite:///{missing}")
    assert main(["postmortem", "1"]) == 2
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists()
