"""Alerts into incidents with Alertmanager's semantics, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.alerts import Alert
from bot.incidents import IncidentEngine, IncidentError, Matcher, Routing
from bot.incidents.views import list_incidents, open_count, show_incident
from bot.store.tables import alerts

NOW = datetime(2026, 3, 2, 14, 10, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def alert(name: str = "SettlementFailureRate", lane: str | None = "l2-arb", status: str = "firing", **labels: str) -> Alert:
    started = NOW - timedelta(minutes=2)
    return Alert(
        source="alertmanager",
        fingerprint=f"fp-{name}-{lane}",
        status=status,  # type: ignore[arg-type]
        starts_at=started,
        ends_at=NOW if status == "resolved" else None,
        lane=lane,
        name=name,
        labels={"alertname": name, **({"lane": lane} if lane else {}), **labels},
        annotations={"summary": f"{name} on {lane}"},
        url=None,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


def engine_for(store_engine: Engine, clock: Clock, **routing: Any) -> IncidentEngine:
    return IncidentEngine(store_engine, Routing(**routing), clock)


@pytest.fixture
def incidents(store_engine: Engine, clock: Clock) -> IncidentEngine:
    return engine_for(store_engine, clock)


def kinds(engine: IncidentEngine, incident_id: str) -> list[str]:
    return [e["kind"] for e in show_incident(engine.engine, incident_id).timeline]


def test_a_firing_alert_opens_an_incident_notified_at_once(incidents: IncidentEngine) -> None:
    received = incidents.receive([alert()])
    assert received.new == 1
    [incident_id] = received.incidents
    assert incident_id == "inc-20260302-0001"
    assert [(n.incident_id, n.reason) for n in incidents.due()] == [(incident_id, "opened")]
    assert incidents.due() == []  # handed out once
    assert kinds(incidents, incident_id) == ["incident.opened", "alert.firing", "notified"]
    assert open_count(incidents.engine) == 1


def test_group_wait_holds_the_first_notification(store_engine: Engine, clock: Clock) -> None:
    incidents = engine_for(store_engine, clock, group_wait=timedelta(seconds=30))
    incidents.receive([alert()])
    clock.advance(10)
    incidents.receive([alert("FinalityStall")])  # joins the group while it waits
    assert incidents.due() == []
    clock.advance(20)
    assert [n.reason for n in incidents.due()] == ["opened"]


def test_a_redelivered_alert_is_stored_once(incidents: IncidentEngine) -> None:
    first = incidents.receive([alert()])
    incidents.due()
    again = incidents.receive([alert(), alert()])
    assert (first.new, again.new, again.duplicates) == (1, 0, 2)
    with incidents.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(alerts)) == 1
        assert conn.scalar(select(alerts.c.received)) == 3
    assert incidents.due() == []  # nothing changed, nothing to say
    [incident_id] = first.incidents
    assert kinds(incidents, incident_id).count("alert.firing") == 1


def test_alerts_group_by_lane(incidents: IncidentEngine) -> None:
    a = incidents.receive([alert("SettlementFailureRate"), alert("CanaryFailing")])
    b = incidents.receive([alert("SettlementFailureRate", lane="l1-eth")])
    assert len(a.incidents) == 1
    assert b.incidents.isdisjoint(a.incidents)
    summaries = {s.incident_id: s for s in list_incidents(incidents.engine)}
    assert summaries[next(iter(a.incidents))].alerts_firing == 2
    assert summaries[next(iter(b.incidents))].lanes == ["l1-eth"]


def test_lane_less_alerts_group_per_sender_and_alert_name_never_all_together(incidents: IncidentEngine) -> None:
    from_grafana = replace(alert("FeedStale", lane=None), source="grafana", fingerprint="fp-grafana")
    apart = incidents.receive([alert("NodeDown", lane=None), from_grafana])
    assert len(apart.incidents) == 2  # different senders and names: never one "lane=" incident
    same_name_other_sender = replace(alert("NodeDown", lane=None), source="grafana", fingerprint="fp-grafana-node")
    assert incidents.receive([same_name_other_sender]).incidents.isdisjoint(apart.incidents)
    twin = replace(alert("NodeDown", lane=None), fingerprint="fp-other-node")  # the same sender and name, another host
    assert incidents.receive([twin]).incidents < apart.incidents
    assert len(list_incidents(incidents.engine)) == 3


def test_new_alerts_after_a_notification_wait_for_group_interval(incidents: IncidentEngine, clock: Clock) -> None:
    incidents.receive([alert()])
    incidents.due()
    clock.advance(60)
    incidents.receive([alert("FinalityStall")])
    assert incidents.due() == []
    clock.advance(240)  # 5 minutes after the first notification
    assert [n.reason for n in incidents.due()] == ["updated"]


def test_an_unchanged_incident_is_repeated_after_repeat_interval(incidents: IncidentEngine, clock: Clock) -> None:
    incidents.receive([alert()])
    incidents.due()
    clock.advance(4 * 3600 - 1)
    assert incidents.due() == []
    clock.advance(1)
    assert [n.reason for n in incidents.due()] == ["repeat"]


def test_an_incident_resolves_when_its_last_alert_resolves(incidents: IncidentEngine, clock: Clock) -> None:
    [incident_id] = incidents.receive([alert(), alert("CanaryFailing")]).incidents
    incidents.due()
    clock.advance(30)
    incidents.receive([alert(status="resolved")])
    assert list_incidents(incidents.engine)[0].status == "open"
    incidents.receive([alert("CanaryFailing", status="resolved")])
    summary = list_incidents(incidents.engine)[0]
    assert (summary.status, summary.alerts_firing, summary.resolved_at) == ("resolved", 0, clock.now)
    clock.advance(300)
    assert [n.reason for n in incidents.due()] == ["resolved"]
    assert kinds(incidents, incident_id)[-3:] == ["alert.resolved", "incident.resolved", "notified"]
    clock.advance(5 * 3600)
    assert incidents.due() == []  # a resolved incident is not repeated


def test_a_late_firing_copy_of_a_resolved_alert_changes_nothing(incidents: IncidentEngine) -> None:
    incidents.receive([alert()])
    incidents.receive([alert(status="resolved")])
    received = incidents.receive([alert()])
    assert (received.new, received.duplicates) == (0, 1)
    assert list_incidents(incidents.engine)[0].status == "resolved"


def test_a_new_alert_after_resolution_opens_a_new_incident(incidents: IncidentEngine, clock: Clock) -> None:
    incidents.receive([alert()])
    incidents.receive([alert(status="resolved")])
    clock.advance(600)
    fired_again = replace(alert(), starts_at=clock.now)  # Alertmanager: a new firing has a new startsAt
    assert incidents.receive([fired_again]).incidents == {"inc-20260302-0002"}


def test_a_lane_down_alert_silences_that_lanes_symptoms(incidents: IncidentEngine) -> None:
    [incident_id] = incidents.receive([alert("LaneDown")]).incidents
    incidents.due()
    received = incidents.receive([alert("SettlementFailureRate"), alert("CanaryFailing", lane="l1-eth")])
    assert received.inhibited == 1
    other_lane = received.incidents - {incident_id}
    assert {n.incident_id for n in incidents.due()} == other_lane  # the silenced alert triggers nothing of its own
    detail = show_incident(incidents.engine, incident_id)
    assert [(a["name"], a["inhibited"]) for a in detail.alerts] == [("LaneDown", False), ("SettlementFailureRate", True)]
    assert "alert.inhibited" in kinds(incidents, incident_id)
    assert len(list_incidents(incidents.engine, "open")) == 2  # the other lane's alert is not silenced


def test_a_lane_down_alert_silences_symptoms_that_fired_before_it(incidents: IncidentEngine) -> None:
    [incident_id] = incidents.receive([alert("SettlementFailureRate")]).incidents
    incidents.receive([alert("LaneDown")])
    detail = show_incident(incidents.engine, incident_id)
    assert {a["name"]: a["inhibited"] for a in detail.alerts} == {"SettlementFailureRate": True, "LaneDown": False}


def test_every_alert_that_becomes_silenced_is_counted_once_each_time(incidents: IncidentEngine, clock: Clock) -> None:
    assert incidents.receive([alert("SettlementFailureRate"), alert("FinalityStall")]).inhibited == 0
    assert incidents.receive([alert("LaneDown")]).inhibited == 2  # silenced by a source that came after them
    assert incidents.receive([alert("LaneDown"), alert("SettlementFailureRate")]).inhibited == 0  # re-deliveries
    assert incidents.receive([alert("CanaryFailing")]).inhibited == 1  # silenced as it arrives
    assert incidents.receive([alert("LaneDown", status="resolved")]).inhibited == 0  # all three count again
    clock.advance(60)
    down_again = incidents.receive([replace(alert("LaneDown"), starts_at=clock.now)])
    assert (down_again.inhibited, dict(down_again.silenced_senders)) == (3, {"alertmanager": 3})  # silenced anew


def test_silenced_symptoms_count_again_when_the_lane_comes_back(store_engine: Engine, clock: Clock) -> None:
    incidents = engine_for(store_engine, clock, group_by=("alertname", "lane"))
    incidents.receive([alert("LaneDown")])
    silenced = incidents.receive([alert("SettlementFailureRate")])
    assert (silenced.inhibited, silenced.incidents) == (1, set())  # no incident of its own while silenced
    back = incidents.receive([alert("LaneDown", status="resolved")])
    assert len(back.incidents) == 2  # LaneDown's incident resolved, the symptom's incident opened
    statuses = {s.title: s.status for s in list_incidents(incidents.engine)}
    assert statuses == {"LaneDown on l2-arb": "resolved", "SettlementFailureRate on l2-arb": "open"}


def test_the_inhibition_rule_is_configurable(store_engine: Engine, clock: Clock) -> None:
    routing = {"inhibit_source": (Matcher("severity", "critical"),), "inhibit_equal": ("lane",)}
    incidents = engine_for(store_engine, clock, **routing)
    incidents.receive([alert("SequencerDown", severity="critical")])
    assert incidents.receive([alert("FinalityStall", severity="warning")]).inhibited == 1


def test_a_mitigated_incident_reopens_when_a_new_alert_fires(incidents: IncidentEngine) -> None:
    [incident_id] = incidents.receive([alert()]).incidents
    incidents.set_status(incident_id, "mitigated", "U01ONCALL", "rerouted to l1-eth")
    assert list_incidents(incidents.engine)[0].status == "mitigated"
    incidents.receive([alert("CanaryFailing")])
    assert list_incidents(incidents.engine)[0].status == "open"
    entries = show_incident(incidents.engine, incident_id).timeline
    mitigated = next(e for e in entries if e["kind"] == "incident.mitigated")
    assert (mitigated["actor"], mitigated["detail"]["note"]) == ("U01ONCALL", "rerouted to l1-eth")
    assert [e["kind"] for e in entries[-2:]] == ["alert.firing", "incident.open"]


def test_lifecycle_requests_that_cannot_be_done_say_why(incidents: IncidentEngine) -> None:
    [incident_id] = incidents.receive([alert()]).incidents
    with pytest.raises(IncidentError, match="no incident inc-x"):
        incidents.ack("inc-x", "U01")
    incidents.ack(incident_id, "U01ONCALL")
    with pytest.raises(IncidentError, match="already acknowledged by U01ONCALL"):
        incidents.ack(incident_id, "U02LEAD")
    with pytest.raises(IncidentError, match="already open"):
        incidents.set_status(incident_id, "open", "U01")
    with pytest.raises(IncidentError, match="unknown status"):
        incidents.set_status(incident_id, "closed", "U01")  # type: ignore[arg-type]


def test_concurrent_deliveries_of_one_alert_store_it_once(incidents: IncidentEngine) -> None:
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            incidents.receive([alert(), alert("CanaryFailing")])
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with incidents.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(alerts)) == 2
    assert len(list_incidents(incidents.engine)) == 1
