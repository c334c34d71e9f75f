"""``lanekeeper replay`` on every bundled scenario and on a recorded directory: the facts
card comes first, nothing unvalidated is posted, and every posted summary validates."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from helpers import T0, Stream

from bot.cli.main import main
from bot.replay.run import ReplayResult, replay
from bot.tabletop.scenario import bundled

DEMO = Path(__file__).resolve().parent.parent / "bot" / "demo" / "l2-arb-rollback.yaml"


def assert_channel_is_safe(result: ReplayResult) -> None:
    by_incident: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in result.calls:
        by_incident[call["incident_id"]].append(call)
    for calls in by_incident.values():
        first = calls[0]
        assert first["method"] == "chat.postMessage"
        text = json.dumps(first["args"]["blocks"], ensure_ascii=False)
        assert "AI summary: validating…" in text or "Facts only" in text  # the facts card comes first
    posted = json.dumps([c["args"] for c in result.calls], ensure_ascii=False)
    validated = [json.loads(a["raw_output"]) for a in result.attempts if a["outcome"] == "validated"]
    for attempt in result.attempts:
        if attempt["outcome"] == "validated":
            assert attempt["report"] == {"ok": True, "violations": []}
        elif attempt["raw_output"]:
            headline = json.loads(attempt["raw_output"]).get("headline", "")
            assert headline not in {v["headline"] for v in validated}
            assert headline not in posted  # nothing unvalidated reaches the channel
    for proposal in validated:
        assert proposal["headline"] in posted
    assert_no_card_says_healthy(result.calls)


def assert_no_card_says_healthy(calls: list[dict[str, Any]]) -> None:
    """Every version of every card (the thread's parent) is for a lane in an open incident
    or one with no data: none may read "healthy", whatever its figures."""
    cards = {c["ts"] for c in calls if c["method"] == "chat.postMessage" and not c["args"].get("thread_ts")}
    for call in calls:
        if call["ts"] in cards:
            text = json.dumps(call["args"]["blocks"], ensure_ascii=False)
            assert not re.search(r"\bhealthy\b", text), text


@pytest.mark.parametrize("name", sorted(bundled()))
def test_replay_of_every_bundled_scenario_is_safe(name: str) -> None:
    result = replay(name)
    assert result.events > 1000
    assert result.calls
    assert_channel_is_safe(result)


def test_the_demo_replay_catches_the_wrong_figure_and_posts_the_corrected_summary(tmp_path: Path) -> None:
    out = tmp_path / "transcript.json"
    result = replay(str(DEMO), transcript=out, recording_only=True)
    assert [a["outcome"] for a in result.attempts] == ["rejected", "validated"]
    assert_channel_is_safe(result)
    calls = json.loads(out.read_text())
    # the card, its edit with the validated summary, that summary kept in the thread, the suggested rollback;
    # five minutes on, nobody having acknowledged (a replay has no people), the reminder on the card and in the thread
    methods = ["chat.postMessage", "chat.update", "chat.postMessage", "chat.postMessage", "chat.update", "chat.postMessage"]
    assert [c["method"] for c in calls] == methods
    assert calls[2]["args"]["text"].startswith("AI summary: ")
    assert calls[3]["args"]["text"].startswith("Suggested rollback l2-arb")
    assert "not acknowledged for 5 min (sev1)" in json.dumps(calls[5]["args"]["blocks"])
    [parent] = {c["args"].get("thread_ts") for c in calls[2:] if c["method"] == "chat.postMessage"}
    assert parent is not None  # every later message replies in the card's thread
    assert set(calls[0]) == {"method", "args"}


def test_replay_of_a_recorded_directory_delivers_alerts_among_the_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = Stream()
    for i in range(40):
        stream.settle(f"s{i}", i * 20, i * 20 + 15, ok=i % 3 != 0)
    (tmp_path / "events.ndjson").write_bytes(stream.ndjson())
    alert = {
        "status": "firing",
        "labels": {"alertname": "SettlementFailureRate", "lane": "l2-arb"},
        "annotations": {"summary": "l2-arb failures"},
        "startsAt": (T0.replace(minute=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endsAt": "0001-01-01T00:00:00Z",
    }
    payload = {"version": "4", "status": "firing", "receiver": "x", "groupKey": "g", "alerts": [alert]}
    (tmp_path / "alertmanager.json").write_text(json.dumps([payload]))
    assert main(["replay", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[14:10:00 UTC] lanekeeper" in out
    assert "SettlementFailureRate on l2-arb" in out
    assert "40 events replayed" not in out  # 80 lines: a submission and an outcome each
    assert "80 events replayed" in out


def test_replay_refuses_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    assert "a recorded scenario holds events.ndjson" in capsys.readouterr().err
    assert main(["replay", "no-such-scenario"]) == 2
    assert "neither a bundled scenario" in capsys.readouterr().err
