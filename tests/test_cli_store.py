"""``lanekeeper db upgrade``, ``lanes``, ``incidents`` and ``serve``'s start-up errors, as a terminal sees them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import Stream
from stores import running
from test_alert_payloads import raw

from bot.cli.main import main
from bot.clock import utcnow
from bot.http.app import create_app
from bot.incidents.silences import Silences
from bot.store.engine import head_revision, make_engine


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    monkeypatch.chdir(tmp_path)  # no developer's .env is read
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", database_url)
    return database_url


def fill(database_url: str) -> None:
    """What a running server leaves in the store: events, their lane status, incidents."""
    bot = running(database_url)
    try:
        with TestClient(create_app(bot, background=False)) as client:
            stream = Stream()
            stream.settle("s1", 0, 20, ok=False)
            stream.settle("s2", 5, None, notional=2_500_000.0)
            client.post("/events", content=stream.ndjson())
            client.post("/webhooks/alertmanager", content=raw("alertmanager-firing.json"))
        bot.save_snapshot()
    finally:
        bot.close()


def test_db_upgrade_says_where_the_store_is(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert f"is at revision {head_revision()}" in capsys.readouterr().out


def test_lanes_before_any_event_says_why_it_is_empty(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0  # what serve does first; lanes itself never creates a store
    capsys.readouterr()
    assert main(["lanes"]) == 0
    assert "no lane status yet" in capsys.readouterr().out


def test_lanes_shows_health_and_key_facts(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store)
    assert main(["lanes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["LANE", "HEALTH", "SEV"]
    row = out[1].split()
    assert row[:5] == ["l2-arb", "UNHEALTHY", "sev1", "100.00", "-"]  # one failed of one ended; nothing finalized
    assert "2,500,000" in out[1]
    assert main(["lanes", "--json"]) == 0
    [lane] = json.loads(capsys.readouterr().out)["lanes"]
    assert (lane["facts"]["failed"], lane["facts"]["pending"], lane["healthy"]) == (1, 1, False)


def test_lanes_shows_silences_and_their_audit_trail(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store)
    engine = make_engine(store)
    try:
        silences = Silences(engine, utcnow)
        silences.silence("l2-op", timedelta(minutes=10), "first try", "U02LEAD")
        silences.unsilence("l2-op", "U01ONCALL")
        silences.silence("l2-arb", timedelta(minutes=30), "sequencer upgrade", "U01ONCALL")
    finally:
        engine.dispose()
    assert main(["lanes"]) == 0
    out = capsys.readouterr().out
    assert "l2-arb silenced until 20" in out
    assert "by U01ONCALL: sequencer upgrade (0 muted)" in out
    assert "l2-op silenced" not in out
    assert main(["lanes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["silenced"]) == ["l2-arb"]
    assert [(s["lane"], s["created_by"], s["reason"], s["ended_by"]) for s in doc["silences"]] == [
        ("l2-arb", "U01ONCALL", "sequencer upgrade", None),
        ("l2-op", "U02LEAD", "first try", "U01ONCALL"),
    ]


def test_incidents_list_and_show(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store)
    assert main(["incidents", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["incidents"]
    assert sorted(i["title"] for i in listed) == ["CanaryFailing on l1-eth", "SettlementFailureRate on l2-arb"]
    incident_id = next(i["incident_id"] for i in listed if i["lanes"] == ["l2-arb"])
    assert main(["incidents"]) == 0
    assert incident_id in capsys.readouterr().out
    assert main(["incidents", incident_id]) == 0
    shown = capsys.readouterr().out
    assert "SettlementFailureRate" in shown
    assert "FinalityStall" in shown
    assert "incident.opened" in shown
    assert main(["incidents", "inc-00000000-0000"]) == 1
    assert "no incident inc-00000000-0000" in capsys.readouterr().err


def test_serve_stops_with_one_line_naming_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANEKEEPER_STATUS_WINDOW", "half an hour")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lanekeeper serve: LANEKEEPER_STATUS_WINDOW: invalid duration")
    assert err.count("\n") == 1


def test_serve_stops_with_one_line_for_a_bad_policy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text("lanes: {}\nsurprise: 1\n")
    monkeypatch.setenv("LANEKEEPER_POLICY", str(tmp_path / "policy.yaml"))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lanekeeper serve: LANEKEEPER_POLICY: {tmp_path / 'policy.yaml'}:")
    assert err.count("\n") == 1


def test_serve_stops_with_one_line_when_the_store_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", "postgresql://nobody:pw@127.0.0.1:1/none")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "lanekeeper serve: LANEKEEPER_DATABASE_URL: PostgreSQL at 127.0.0.1:1 refused the connection: "
        "is it running, on that port?\n"
    )
    assert err.count("\n") == 1
