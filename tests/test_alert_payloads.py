"""Alertmanager (v4), Grafana and PagerDuty (V3) webhook payloads into one ``Alert``."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts import LaneRule, PayloadError, parse_alertmanager, parse_grafana, parse_pagerduty, verify_pagerduty_signature
from bot.alerts.common import fingerprint

WEBHOOKS = Path(__file__).resolve().parent / "fixtures" / "webhooks"


def raw(name: str) -> bytes:
    return (WEBHOOKS / name).read_bytes()


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(raw(name))
    return loaded


def test_alertmanager_v4_payload_gives_one_alert_per_alert() -> None:
    alerts = parse_alertmanager(raw("alertmanager-firing.json"))
    assert [(a.name, a.lane, a.status) for a in alerts] == [
        ("SettlementFailureRate", "l2-arb", "firing"),
        ("FinalityStall", "l2-arb", "firing"),
        ("CanaryFailing", "l1-eth", "firing"),
    ]
    first = alerts[0]
    assert first.source == "alertmanager"
    assert first.fingerprint == "5e8f1a2b3c4d6e7f"
    assert first.starts_at == datetime(2026, 3, 2, 14, 5, 7, 123000, tzinfo=UTC)
    assert first.ends_at is None  # Go's zero time means "not ended"
    assert first.annotations["summary"] == "l2-arb settlement failure rate above 2%"
    assert first.url is not None
    assert first.url.startswith("http://prometheus.example.com:9090/graph")


def test_firing_and_resolved_deliveries_of_one_alert_share_its_id() -> None:
    firing = {a.name: a for a in parse_alertmanager(raw("alertmanager-firing.json"))}
    resolved = {a.name: a for a in parse_alertmanager(raw("alertmanager-resolved.json"))}
    assert firing["SettlementFailureRate"].alert_id == resolved["SettlementFailureRate"].alert_id
    assert resolved["SettlementFailureRate"].ends_at == datetime(2026, 3, 2, 14, 41, 37, 500000, tzinfo=UTC)
    assert parse_alertmanager(raw("alertmanager-firing.json"))[0].alert_id == firing["SettlementFailureRate"].alert_id
    assert len({a.alert_id for a in firing.values()}) == 3


def test_a_missing_fingerprint_is_computed_as_alertmanager_does() -> None:
    [lane_down] = parse_alertmanager(raw("alertmanager-lanedown.json"))
    assert lane_down.fingerprint == fingerprint(lane_down.labels)
    # the values prometheus/common's signature tests pin for these label sets
    assert int(fingerprint({}), 16) == 14695981039346656037
    assert int(fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16) == 5799056148416392346


def test_the_lane_label_is_configurable_and_may_be_missing() -> None:
    payload = doc("alertmanager-firing.json")
    payload["alerts"][0]["labels"]["clearing_lane"] = "l2-op"
    del payload["alerts"][1]["labels"]["lane"]
    alerts = parse_alertmanager(json.dumps(payload).encode(), LaneRule("clearing_lane"))
    assert [a.lane for a in alerts] == ["l2-op", None, None]


def test_grafana_contact_point_payload_is_alertmanager_shaped_plus_its_own_fields() -> None:
    [alert] = parse_grafana(raw("grafana-firing.json"))
    assert (alert.source, alert.name, alert.lane, alert.fingerprint) == ("grafana", "FeedDivergence", "l2-op", "c6eadffa33fcdf37")
    assert alert.starts_at == datetime(2026, 3, 2, 14, 10, 3, 157076, tzinfo=UTC)  # +01:00 read as UTC
    assert alert.url == "https://grafana.example.com/d/lanes?orgId=1&viewPanel=4"
    [resolved] = parse_grafana(raw("grafana-resolved.json"))
    assert (resolved.status, resolved.alert_id) == ("resolved", alert.alert_id)


ZK_SERVICE = LaneRule(pagerduty_services={"PIJ90N7": "l2-zk"})


def test_pagerduty_incident_events_become_one_alert_on_the_lane_of_its_service() -> None:
    """The fixtures have the shape of PagerDuty's own V3 examples: an incident carries its
    service, priority and urgency, and no labels or custom details to find a lane in."""
    [triggered] = parse_pagerduty(raw("pagerduty-triggered.json"), ZK_SERVICE)
    assert (triggered.source, triggered.fingerprint, triggered.status, triggered.lane) == (
        "pagerduty",
        "PT4KHLK",
        "firing",
        "l2-zk",
    )
    assert triggered.name == "l2-zk sequence gap detected"
    assert (triggered.labels["priority"], triggered.labels["lane"]) == ("P1", "l2-zk")
    assert triggered.url == "https://example.pagerduty.com/incidents/PT4KHLK"
    [acknowledged] = parse_pagerduty(raw("pagerduty-acknowledged.json"), ZK_SERVICE)
    [resolved] = parse_pagerduty(raw("pagerduty-resolved.json"), ZK_SERVICE)
    assert acknowledged.status == "firing"
    assert resolved.status == "resolved"
    assert resolved.ends_at == datetime(2026, 3, 2, 14, 31, 45, tzinfo=UTC)
    assert triggered.alert_id == acknowledged.alert_id == resolved.alert_id


def test_a_pagerduty_incident_of_a_service_the_policy_does_not_map_has_no_lane() -> None:
    [alert] = parse_pagerduty(raw("pagerduty-triggered.json"), LaneRule(pagerduty_services={"PXXXXXX": "l2-arb"}))
    assert alert.lane is None
    assert "lane" not in alert.labels


def test_pagerduty_events_that_are_not_about_state_give_nothing() -> None:
    assert parse_pagerduty(raw("pagerduty-annotated.json")) == []


@pytest.mark.parametrize("parse", [parse_alertmanager, parse_grafana, parse_pagerduty])
@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_what_is_not_a_json_object_is_a_400(parse: Any, body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(body)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.pop("version"), "version:"),
        (lambda d: d.update(version="3"), "version:"),
        (lambda d: d["alerts"][1].pop("startsAt"), "alerts[1].startsAt:"),
        (lambda d: d["alerts"][1].update(startsAt="2026-03-02T14:06:00"), "alerts[1].startsAt:"),  # no offset
        (lambda d: d["alerts"][2]["labels"].update(lane=7), "alerts[2].labels.lane:"),
        (lambda d: d["alerts"][0].update(status="pending"), "alerts[0].status:"),
        (lambda d: d.update(alerts={}), "alerts:"),
    ],
)
def test_a_payload_of_the_wrong_shape_is_a_422_naming_the_field(change: Any, where: str) -> None:
    payload = doc("alertmanager-firing.json")
    change(payload)
    with pytest.raises(PayloadError) as caught:
        parse_alertmanager(json.dumps(payload).encode())
    assert caught.value.status == 422
    assert caught.value.reason.startswith(where)


def test_pagerduty_wrong_shape_names_the_field_inside_data() -> None:
    payload = doc("pagerduty-triggered.json")
    payload["event"]["data"]["created_at"] = "yesterday"
    with pytest.raises(PayloadError, match=r"^event\.data\.created_at:"):
        parse_pagerduty(json.dumps(payload).encode())


def test_fields_senders_add_later_are_tolerated() -> None:
    payload = doc("alertmanager-firing.json")
    payload["newTopLevelField"] = {"x": 1}
    payload["alerts"][0]["newAlertField"] = [1, 2]
    assert len(parse_alertmanager(json.dumps(payload).encode())) == 3


def sign(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_pagerduty_signatures_are_checked_against_every_secret() -> None:
    body = raw("pagerduty-triggered.json")
    assert verify_pagerduty_signature(body, sign("s3cret", body), ["s3cret"])
    assert verify_pagerduty_signature(body, f"{sign('old', body)}, {sign('new', body)}", ["new"])  # rotation
    assert verify_pagerduty_signature(body, sign("new", body), ["old", "new"])
    assert not verify_pagerduty_signature(body, sign("wrong", body), ["s3cret"])
    assert not verify_pagerduty_signature(body + b" ", sign("s3cret", body), ["s3cret"])  # tampered
    assert not verify_pagerduty_signature(body, None, ["s3cret"])
    assert not verify_pagerduty_signature(body, "sha256=abc", ["s3cret"])


label_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(st.dictionaries(label_text.filter(bool), label_text, max_size=6), st.sampled_from(["firing", "resolved"]))
def test_any_valid_alertmanager_payload_round_trips_its_labels(labels: dict[str, str], status: str) -> None:
    payload = doc("alertmanager-lanedown.json")
    payload["alerts"][0]["labels"] = labels
    payload["alerts"][0]["status"] = status
    [alert] = parse_alertmanager(json.dumps(payload).encode())
    assert alert.labels == labels
    assert alert.fingerprint == fingerprint(labels)
    assert alert.lane == (labels.get("lane") or None)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_payload_errors(body: bytes) -> None:
    statuses = set()
    for parse in (parse_alertmanager, parse_grafana, parse_pagerduty):
        try:
            parse(body)
        except PayloadError as exc:
            statuses.add(exc.status)
    assert statuses <= {400, 422}
