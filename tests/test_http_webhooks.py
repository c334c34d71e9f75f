"""The three webhook endpoints with the tools' own payloads, through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from stores import running
from test_alert_payloads import doc, raw

from bot.alerts import SENDERS
from bot.http.app import create_app
from bot.runtime import Bot
from bot.store.tables import alerts, incidents
from bot.wiring import DEFAULT_POLICY


def count(bot: Bot, table: Any) -> int:
    with bot.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    ("sender", "fixture", "stored", "lanes"),
    [
        ("alertmanager", "alertmanager-firing.json", 3, [["l1-eth"], ["l2-arb"]]),
        ("grafana", "grafana-firing.json", 1, [["l2-op"]]),
        ("pagerduty", "pagerduty-triggered.json", 1, [[]]),  # the default policy maps no PagerDuty service to a lane
    ],
)
def test_each_senders_payload_opens_incidents_by_lane(
    client: TestClient, bot: Bot, sender: str, fixture: str, stored: int, lanes: list[list[str]]
) -> None:
    answer = client.post(f"/webhooks/{sender}", content=raw(fixture), headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["alerts"], body["new"], body["duplicates"]) == (stored, stored, 0)
    assert count(bot, alerts) == stored
    listed = client.get("/incidents").json()["incidents"]
    assert sorted(i["lanes"] for i in listed) == lanes
    assert all(i["status"] == "open" for i in listed)


def test_a_redelivered_webhook_stores_nothing_twice(client: TestClient, bot: Bot) -> None:
    first = client.post("/webhooks/alertmanager", content=raw("alertmanager-firing.json")).json()
    again = client.post("/webhooks/alertmanager", content=raw("alertmanager-firing.json")).json()
    assert (again["new"], again["duplicates"], again["incidents"]) == (0, 3, [])
    assert count(bot, alerts) == first["new"] == 3
    assert count(bot, incidents) == 2


def test_resolved_deliveries_resolve_the_incident(client: TestClient) -> None:
    client.post("/webhooks/alertmanager", content=raw("alertmanager-firing.json"))
    answer = client.post("/webhooks/alertmanager", content=raw("alertmanager-resolved.json")).json()
    assert answer["resolved"] == 2
    [incident_id] = answer["incidents"]
    detail = client.get(f"/incidents/{incident_id}").json()
    assert (detail["status"], detail["lanes"]) == ("resolved", ["l2-arb"])
    assert [e["kind"] for e in detail["timeline"]][-3:] == ["alert.resolved", "alert.resolved", "incident.resolved"]
    assert client.get("/incidents/inc-nope").status_code == 404


@pytest.fixture
def mapped(database_url: str, tmp_path: Path) -> Iterator[tuple[Bot, TestClient]]:
    """A bot whose policy gives the PagerDuty service of the fixtures a lane."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY.read_text() + "pagerduty_services: {PIJ90N7: l2-zk}\n")
    bot = running(database_url, policy=policy)
    try:
        with TestClient(create_app(bot, background=False)) as client:
            yield bot, client
    finally:
        bot.close()


def test_pagerduty_triggered_then_resolved_is_one_alert_on_the_lane_of_its_service(mapped: tuple[Bot, TestClient]) -> None:
    bot, client = mapped
    for name in (
        "pagerduty-triggered.json",
        "pagerduty-acknowledged.json",
        "pagerduty-annotated.json",
        "pagerduty-resolved.json",
    ):
        assert client.post("/webhooks/pagerduty", content=raw(name)).status_code == 200
    assert count(bot, alerts) == 1
    [incident] = client.get("/incidents").json()["incidents"]
    assert (incident["status"], incident["lanes"]) == ("resolved", ["l2-zk"])


def test_a_lane_down_alert_silences_the_lanes_symptoms(client: TestClient) -> None:
    client.post("/webhooks/alertmanager", content=raw("alertmanager-lanedown.json"))
    answer = client.post("/webhooks/alertmanager", content=raw("alertmanager-firing.json")).json()
    assert answer["inhibited"] == 2  # the two l2-arb symptoms; l1-eth's canary is not silenced
    open_ids = [i["incident_id"] for i in client.get("/incidents?status=open").json()["incidents"]]
    assert len(open_ids) == 2


def test_symptoms_silenced_by_a_later_lane_down_alert_are_counted(client: TestClient, bot: Bot) -> None:
    assert client.post("/webhooks/alertmanager", content=raw("alertmanager-firing.json")).json()["inhibited"] == 0
    assert client.post("/webhooks/alertmanager", content=raw("alertmanager-lanedown.json")).json()["inhibited"] == 2
    sample = bot.metrics.registry.get_sample_value
    assert sample("lanekeeper_alerts_total", {"sender": "alertmanager", "outcome": "inhibited"}) == 2


def lane_less(fixture: str, name: str, **labels: str) -> bytes:
    """The fixture's first alert, with no lane label, named ``name``."""
    payload = doc(fixture)
    first = payload["alerts"][0]
    first["labels"] = {"alertname": name, **labels}
    first.pop("fingerprint", None)  # computed from the labels, as Alertmanager does
    payload["alerts"] = [first]
    return json.dumps(payload).encode()


def test_lane_less_alerts_from_different_senders_open_their_own_incidents(client: TestClient) -> None:
    from_alertmanager = client.post("/webhooks/alertmanager", content=lane_less("alertmanager-firing.json", "NodeDown")).json()
    from_grafana = client.post("/webhooks/grafana", content=lane_less("grafana-firing.json", "FeedStale")).json()
    assert set(from_alertmanager["incidents"]).isdisjoint(from_grafana["incidents"])
    same = client.post("/webhooks/alertmanager", content=lane_less("alertmanager-firing.json", "NodeDown", host="b")).json()
    assert (same["new"], same["incidents"]) == (1, from_alertmanager["incidents"])  # same sender and name: one group
    assert len(client.get("/incidents").json()["incidents"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[]", 400, "expected a JSON object"),
        (json.dumps({"version": "4", "status": "firing", "alerts": [{"status": "firing"}]}).encode(), 422, "alerts[0].labels"),
    ],
)
def test_a_bad_payload_is_refused_with_the_reason_and_nothing_stored(
    client: TestClient, bot: Bot, body: bytes, status: int, reason: str
) -> None:
    answer = client.post("/webhooks/alertmanager", content=body)
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    assert count(bot, alerts) == 0
    assert rejected(bot, "alertmanager", "malformed") == 1


def test_one_bad_alert_refuses_the_whole_payload(client: TestClient, bot: Bot) -> None:
    payload = doc("alertmanager-firing.json")
    payload["alerts"][2]["startsAt"] = "not a time"
    answer = client.post("/webhooks/alertmanager", content=json.dumps(payload).encode())
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("alerts[2].startsAt")
    assert count(bot, alerts) == 0  # the two valid alerts beside it are not half-stored


def test_an_unknown_sender_is_a_404(client: TestClient) -> None:
    answer = client.post("/webhooks/nagios", content=b"{}")
    assert answer.status_code == 404
    assert "alertmanager" in answer.json()["detail"]


def test_the_bearer_token_guards_webhooks_and_events_when_set(database_url: str) -> None:
    bot = running(database_url, webhook_token="t0ken")
    try:
        with TestClient(create_app(bot, background=False)) as client:
            assert client.post("/webhooks/alertmanager", content=raw("alertmanager-firing.json")).status_code == 401
            assert client.post("/events", content=b"").status_code == 401
            wrong = {"authorization": "Bearer nope"}
            assert client.post("/webhooks/grafana", content=raw("grafana-firing.json"), headers=wrong).status_code == 401
            good = {"authorization": "Bearer t0ken"}
            assert client.post("/webhooks/grafana", content=raw("grafana-firing.json"), headers=good).status_code == 200
    finally:
        bot.close()


def rejected(bot: Bot, sender: str, reason: str) -> float | None:
    return bot.metrics.registry.get_sample_value("lanekeeper_payloads_rejected_total", {"sender": sender, "reason": reason})


@pytest.fixture
def guarded(database_url: str) -> Iterator[tuple[Bot, TestClient]]:
    """A bot that wants a bearer token, PagerDuty signatures, and webhooks under 8 kB."""
    bot = running(database_url, webhook_token="t0ken", pagerduty_secrets="s3cret", max_webhook_bytes=8000)
    try:
        with TestClient(create_app(bot, background=False)) as client:
            yield bot, client
    finally:
        bot.close()


TOKEN = {"authorization": "Bearer t0ken"}


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "sender", "reason"),
    [
        ("/webhooks/alertmanager", raw("alertmanager-firing.json"), {}, 401, "alertmanager", "unauthorized"),
        ("/webhooks/grafana", raw("grafana-firing.json"), {"authorization": "Bearer nope"}, 401, "grafana", "unauthorized"),
        ("/webhooks/pagerduty", raw("pagerduty-triggered.json"), {}, 401, "pagerduty", "bad_signature"),
        (
            "/webhooks/pagerduty",
            raw("pagerduty-triggered.json"),
            {"x-pagerduty-signature": "v1=" + "0" * 64},
            401,
            "pagerduty",
            "bad_signature",
        ),
        ("/webhooks/alertmanager", b"{not json", TOKEN, 400, "alertmanager", "malformed"),
        ("/webhooks/grafana", b'{"alerts": [{}]}', TOKEN, 422, "grafana", "malformed"),
        ("/webhooks/alertmanager", b" " * 8001, TOKEN, 413, "alertmanager", "too_large"),
        ("/webhooks/nagios", b"{}", TOKEN, 404, "unknown", "unknown_sender"),
        ("/events", b"", {}, 401, "events", "unauthorized"),
    ],
    ids=[
        "no-token",
        "wrong-token",
        "no-signature",
        "forged-signature",
        "not-json",
        "wrong-shape",
        "too-large",
        "unknown-sender",
        "events-no-token",
    ],
)
def test_every_refused_request_is_counted_by_sender_and_reason(
    guarded: tuple[Bot, TestClient], path: str, body: bytes, headers: dict[str, str], status: int, sender: str, reason: str
) -> None:
    bot, client = guarded
    assert client.post(path, content=body, headers=headers).status_code == status
    assert rejected(bot, sender, reason) == 1
    assert count(bot, alerts) == 0


def test_pagerduty_signatures_are_required_when_secrets_are_set(database_url: str) -> None:
    bot = running(database_url, pagerduty_secrets="old-secret,new-secret")
    body = raw("pagerduty-triggered.json")
    signature = "v1=" + hmac.new(b"new-secret", body, hashlib.sha256).hexdigest()
    try:
        with TestClient(create_app(bot, background=False)) as client:
            assert client.post("/webhooks/pagerduty", content=body).status_code == 401
            forged = {"x-pagerduty-signature": "v1=" + "0" * 64}
            assert client.post("/webhooks/pagerduty", content=body, headers=forged).status_code == 401
            signed = {"x-pagerduty-signature": signature}
            assert client.post("/webhooks/pagerduty", content=body, headers=signed).status_code == 200
    finally:
        bot.close()


def test_the_first_notification_goes_out_with_the_webhook_not_a_tick_later(client: TestClient, bot: Bot) -> None:
    seen: list[str] = []
    bot.on_notify.append(lambda note: seen.append(note.reason))
    client.post("/webhooks/grafana", content=raw("grafana-firing.json"))
    assert seen == ["opened"]
    assert bot.tick() == []
    assert bot.metrics.registry.get_sample_value("lanekeeper_notifications_total", {"reason": "opened"}) == 1
    assert bot.metrics.registry.get_sample_value("lanekeeper_incidents_open") == 1


def test_the_openapi_schema_lists_the_senders_of_the_registry(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    [sender] = schema["paths"]["/webhooks/{sender}"]["post"]["parameters"]
    assert sender["schema"]["enum"] == list(SENDERS) == ["alertmanager", "grafana", "pagerduty"]
    assert "PAGERDUTY_WEBHOOK_SECRETS" in sender["schema"]["description"]
    payloads = schema["components"]["schemas"]["WebhookPayload"]["anyOf"]
    assert [p["$ref"].rsplit("/", 1)[1] for p in payloads] == [s.payload.__name__ for s in SENDERS.values()]
