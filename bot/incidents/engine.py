"""Alerts into incidents, with Alertmanager's semantics, persisted as they happen.

``receive`` stores a webhook's alerts and files them into incidents in one transaction
(the webhook is answered only after it commits); ``due`` hands out the notifications that
group_wait / group_interval / repeat_interval say are due, marking them sent in the same
transaction, so a restart neither loses nor repeats one.

Rules that Alertmanager leaves to the receiver, decided here:
- an alert is one ``(source, fingerprint, startsAt)``; a re-delivery changes nothing but
  its receive count, and once resolved it stays resolved (a late "firing" copy of the same
  alert is stale, not a new problem: a new problem comes with a new startsAt);
- a group has at most one incident that is not resolved; a firing alert for a group whose
  incident is resolved opens a new incident, and one for a mitigated incident re-opens it;
- an incident resolves itself when none of its alerts fires any more;
- a firing alert for a group whose incident resolved within the flap window (``Damping``)
  reopens that incident, counting a flap, instead of opening a new one;
- a firing alert that would open (or reopen) an incident on a lane silenced from Slack is
  stored and counted on the silence, and opens nothing until the silence is over
  (``unmuted``, each tick).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from bot.alerts import Alert
from bot.clock import Clock, utcnow
from bot.incidents.flaps import NO_DAMPING, Damping, flap_times
from bot.incidents.rules import Routing
from bot.incidents.silences import count_muted, muting, silenced_lanes
from bot.incidents.timeline import record
from bot.store.engine import reading
from bot.store.tables import alerts, incidents, timeline

IncidentStatus = Literal["open", "mitigated", "resolved"]
STATUSES: tuple[IncidentStatus, ...] = ("open", "mitigated", "resolved")
_PG_ALERTS_LOCK = 0x4C4B414C  # "LKAL": replicas file alerts one transaction at a time


class IncidentError(ValueError):
    """A request about an incident that cannot be done (unknown id, bad transition)."""


@dataclass(frozen=True, slots=True)
class Notification:
    incident_id: str
    reason: Literal["opened", "updated", "resolved", "repeat"]


@dataclass(slots=True)
class Received:
    """What one delivery did: counts for the webhook's answer and the metrics."""

    new: int = 0
    duplicates: int = 0
    resolved: int = 0
    incidents: set[str] = field(default_factory=set)
    muted: int = 0
    """Firing alerts that opened nothing because their lane is silenced (stored all the same)."""
    reopened: set[str] = field(default_factory=set)
    """Incidents a flap reopened: their card says so at once, not at the next notification."""
    silenced_senders: Counter[str] = field(default_factory=Counter)
    """The sender of each alert this delivery silenced: its own alerts as they arrived, and
    alerts stored before that a source alert of this delivery silenced."""

    @property
    def inhibited(self) -> int:
        """Alerts that became silenced, each counted once each time it became so."""
        return sum(self.silenced_senders.values())


class IncidentEngine:
    def __init__(self, engine: Engine, routing: Routing, clock: Clock = utcnow, damping: Damping = NO_DAMPING) -> None:
        self.engine = engine
        self.routing = routing
        self.clock = clock
        self.damping = damping
        self._lock = threading.Lock()

    def _begin(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ALERTS_LOCK})

    def receive(self, batch: Sequence[Alert]) -> Received:
        result = Received()
        with self._lock, self.engine.begin() as conn:
            self._begin(conn)
            now = self.clock()
            for alert in sorted(batch, key=lambda a: a.starts_at):
                self._receive_one(conn, alert, now, result)
        return result

    def _receive_one(self, conn: Connection, alert: Alert, now: datetime, result: Received) -> None:
        row = conn.execute(select(alerts).where(alerts.c.alert_id == alert.alert_id)).mappings().first()
        if row is None:
            result.new += 1
            conn.execute(insert(alerts).values(**self._alert_values(alert, now)))
            if alert.status == "firing":
                self._file_firing(conn, alert, now, result)
            return
        seen: dict[str, Any] = {"received": row["received"] + 1, "last_seen": now}
        if row["status"] == "firing" and alert.status == "resolved":
            result.resolved += 1
            conn.execute(
                update(alerts).where(alerts.c.alert_id == alert.alert_id).values(status="resolved", ends_at=alert.ends_at, **seen)
            )
            self._file_resolved(conn, alert, row["incident_id"], now, result)
        else:
            result.duplicates += 1
            conn.execute(update(alerts).where(alerts.c.alert_id == alert.alert_id).values(**seen))

    def _alert_values(self, alert: Alert, now: datetime) -> dict[str, Any]:
        return {
            "alert_id": alert.alert_id,
            "source": alert.source,
            "fingerprint": alert.fingerprint,
            "starts_at": alert.starts_at,
            "ends_at": alert.ends_at,
            "status": alert.status,
            "lane": alert.lane,
            "name": alert.name,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "url": alert.url,
            "group_key": self.routing.group_key(alert),
            "equal_key": self.routing.equal_key(alert),
            "is_source": self.routing.is_source(alert),
            "inhibited": False,
            "received": 1,
            "first_seen": now,
            "last_seen": now,
        }

    def _firing_source(self, conn: Connection, equal_key: str) -> str | None:
        """A firing source alert with this ``equal`` key (``name (id)``), if any."""
        query = select(alerts.c.name, alerts.c.alert_id).where(
            alerts.c.equal_key == equal_key, alerts.c.status == "firing", alerts.c.is_source.is_(True)
        )
        found = conn.execute(query.limit(1)).first()
        return None if found is None else f"{found.name} ({found.alert_id})"

    def _silencer(self, conn: Connection, alert: Alert) -> str | None:
        """The firing source alert that silences ``alert``, if any."""
        if self.routing.is_source(alert):
            return None
        return self._firing_source(conn, self.routing.equal_key(alert))

    def _file_firing(self, conn: Connection, alert: Alert, now: datetime, result: Received) -> None:
        silencer = self._silencer(conn, alert)
        group_key = self.routing.group_key(alert)
        live = (
            conn.execute(select(incidents).where(incidents.c.group_key == group_key, incidents.c.status != "resolved").limit(1))
            .mappings()
            .first()
        )
        if silencer is not None:
            result.silenced_senders[alert.source] += 1
            conn.execute(
                update(alerts)
                .where(alerts.c.alert_id == alert.alert_id)
                .values(inhibited=True, incident_id=None if live is None else live["incident_id"])
            )
            if live is not None:
                self._log(conn, live["incident_id"], now, "alert.inhibited", _alert_detail(alert, silenced_by=silencer))
            return
        if live is None:
            silence = muting(conn, alert.lane, now)
            if silence is not None:  # stored (above), counted, and nothing opens
                count_muted(conn, silence)
                result.muted += 1
                return
            live = self._reopen(conn, group_key, alert, now)
            if live is not None:
                result.reopened.add(live["incident_id"])
        incident_id = self._open(conn, alert, group_key, now) if live is None else live["incident_id"]
        conn.execute(update(alerts).where(alerts.c.alert_id == alert.alert_id).values(incident_id=incident_id))
        self._log(conn, incident_id, now, "alert.firing", _alert_detail(alert))
        if live is None:  # the card tells how it opened; its thread tells what follows
            told = select(func.max(timeline.c.entry_id)).where(timeline.c.incident_id == incident_id).scalar_subquery()
            conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(thread_entry_id=told))
        if live is not None:
            self._touch(conn, live, alert, now)  # after the firing entry: the cause reads before its effect
        result.incidents.add(incident_id)
        if self.routing.is_source(alert):
            self._silence_targets(conn, alert, now, result)

    def _silence_targets(self, conn: Connection, source: Alert, now: datetime, result: Received) -> None:
        """A lane-down alert silences that lane's symptom alerts that fire already."""
        equal_key = self.routing.equal_key(source)
        targets = conn.execute(
            select(alerts.c.alert_id, alerts.c.incident_id, alerts.c.name, alerts.c.source).where(
                alerts.c.equal_key == equal_key,
                alerts.c.status == "firing",
                alerts.c.is_source.is_(False),
                alerts.c.inhibited.is_(False),
            )
        ).all()
        for target in targets:
            conn.execute(update(alerts).where(alerts.c.alert_id == target.alert_id).values(inhibited=True))
            result.silenced_senders[target.source] += 1
            if target.incident_id is not None:
                detail = {"alert_id": target.alert_id, "name": target.name, "silenced_by": f"{source.name} ({source.alert_id})"}
                self._log(conn, target.incident_id, now, "alert.inhibited", detail)

    def _file_resolved(self, conn: Connection, alert: Alert, incident_id: str | None, now: datetime, result: Received) -> None:
        if incident_id is not None:
            self._log(conn, incident_id, now, "alert.resolved", _alert_detail(alert))
            result.incidents.add(incident_id)
            still_firing = conn.scalar(
                select(func.count()).select_from(alerts).where(alerts.c.incident_id == incident_id, alerts.c.status == "firing")
            )
            row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().one()
            if not still_firing and row["status"] != "resolved":
                self._set_status(conn, row, "resolved", now, actor=None, note="all alerts resolved")
        if self.routing.is_source(alert):
            self._unsilence(conn, alert, now, result)

    def _unsilence(self, conn: Connection, source: Alert, now: datetime, result: Received) -> None:
        """When the last source alert of an ``equal`` key resolves, its silenced alerts that
        still fire count again, as if they had just arrived."""
        equal_key = self.routing.equal_key(source)
        if self._firing_source(conn, equal_key) is not None:
            return
        silenced = conn.execute(
            select(alerts).where(alerts.c.equal_key == equal_key, alerts.c.status == "firing", alerts.c.inhibited.is_(True))
        ).mappings()
        for row in list(silenced):
            conn.execute(update(alerts).where(alerts.c.alert_id == row["alert_id"]).values(inhibited=False))
            self._file_firing(conn, _alert_of(row), now, result)

    def _open(self, conn: Connection, alert: Alert, group_key: str, now: datetime) -> str:
        prefix = now.strftime("inc-%Y%m%d-")
        last = conn.scalar(select(func.max(incidents.c.incident_id)).where(incidents.c.incident_id.like(prefix + "%")))
        incident_id = f"{prefix}{int(last.removeprefix(prefix)) + 1 if last else 1:04d}"
        title = f"{alert.name} on {alert.lane}" if alert.lane else alert.name
        number = (conn.scalar(select(func.max(incidents.c.number))) or 0) + 1  # writers hold the alerts lock
        conn.execute(
            insert(incidents).values(
                incident_id=incident_id,
                number=number,
                group_key=group_key,
                lanes=[alert.lane] if alert.lane else [],
                status="open",
                severity=None,
                title=title,
                opened_at=now,
                updated_at=now,
                first_alert_at=alert.starts_at,
                escalation_since=now,
                notify_at=now + self.routing.group_wait,
                pending_change=True,
            )
        )
        self._log(conn, incident_id, now, "incident.opened", {"group": group_key, "title": title})
        return incident_id

    def _reopen(self, conn: Connection, group_key: str, alert: Alert, now: datetime) -> Any:
        """The group's incident resolved within the flap window, open again with this flap
        counted (its row as it is now); None when there is none (or damping is off)."""
        if not self.damping.on:
            return None
        row = (
            conn.execute(
                select(incidents)
                .where(
                    incidents.c.group_key == group_key,
                    incidents.c.status == "resolved",
                    incidents.c.resolved_at >= now - self.damping.window,
                )
                .order_by(incidents.c.resolved_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        flaps = [*row["flaps"], now.isoformat()]
        # Escalation waits anew from here: the steps already taken stay taken. An acknowledgement
        # was of the episode that resolved: this one needs its own, or nobody is reminded at all.
        conn.execute(
            update(incidents)
            .where(incidents.c.incident_id == row["incident_id"])
            .values(flaps=flaps, escalation_since=now, acked_by=None, acked_at=None)
        )
        after = (now - row["resolved_at"]).total_seconds()
        note = f"{alert.name} fired again {after:.0f} s after it resolved (flap {len(flaps)})"
        self._set_status(conn, row, "open", now, actor=None, note=note)
        return self._row(conn, row["incident_id"])

    def _touch(self, conn: Connection, row: Any, alert: Alert, now: datetime) -> None:
        """A new alert in a live incident: add its lane, re-open a mitigated one, and
        schedule the next notification no sooner than group_interval after the last."""
        lanes = list(row["lanes"])
        if alert.lane and alert.lane not in lanes:
            lanes.append(alert.lane)
        values: dict[str, Any] = {
            "lanes": lanes,
            "updated_at": now,
            "first_alert_at": min(row["first_alert_at"], alert.starts_at),
        }
        values.update(self._schedule(row, now))
        conn.execute(update(incidents).where(incidents.c.incident_id == row["incident_id"]).values(**values))
        if row["status"] == "mitigated":
            self._set_status(conn, row, "open", now, actor=None, note=f"{alert.name} fired again")

    def _schedule(self, row: Any, now: datetime) -> dict[str, Any]:
        if row["notified_at"] is None:
            return {"pending_change": True}  # the first notification is already due at group_wait
        next_at = max(now, row["notified_at"] + self.routing.group_interval)
        notify_at = next_at if row["notify_at"] is None else min(row["notify_at"], next_at)
        return {"pending_change": True, "notify_at": notify_at}

    def _set_status(
        self, conn: Connection, row: Any, status: IncidentStatus, now: datetime, *, actor: str | None, note: str
    ) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now, "resolved_at": now if status == "resolved" else None}
        values.update(self._schedule(row, now))
        conn.execute(update(incidents).where(incidents.c.incident_id == row["incident_id"]).values(**values))
        self._log(conn, row["incident_id"], now, f"incident.{status}", {"from": row["status"], "note": note}, actor=actor)

    def _log(
        self, conn: Connection, incident_id: str, now: datetime, kind: str, detail: dict[str, Any], *, actor: str | None = None
    ) -> None:
        record(conn, incident_id, now, kind, actor=actor, detail=detail)

    def set_status(self, incident_id: str, status: IncidentStatus, actor: str, note: str = "") -> None:
        """A person's lifecycle change (mitigated, resolved, or open again)."""
        if status not in STATUSES:
            raise IncidentError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        with self._lock, self.engine.begin() as conn:
            self._begin(conn)
            row = self._row(conn, incident_id)
            if row["status"] == status:
                raise IncidentError(f"{incident_id} is already {status}")
            self._set_status(conn, row, status, self.clock(), actor=actor, note=note or f"set by {actor}")

    def ack(self, incident_id: str, actor: str) -> None:
        with self._lock, self.engine.begin() as conn:
            self._begin(conn)
            row = self._row(conn, incident_id)
            if row["acked_by"] is not None:
                raise IncidentError(f"{incident_id} was already acknowledged by {row['acked_by']}")
            now = self.clock()
            conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(acked_by=actor, acked_at=now))
            self._log(conn, incident_id, now, "incident.acknowledged", {}, actor=actor)

    def note(self, incident_id: str, actor: str, text: str) -> None:
        """A person's note on the timeline (and so in the incident's thread)."""
        with self._lock, self.engine.begin() as conn:
            self._begin(conn)
            self._row(conn, incident_id)
            self._log(conn, incident_id, self.clock(), "incident.note", {"text": text}, actor=actor)

    def escalate(self, incident_id: str, actor: str, to: list[str]) -> None:
        """Who escalated, to whom (user or group ids): the thread mentions them."""
        with self._lock, self.engine.begin() as conn:
            self._begin(conn)
            row = self._row(conn, incident_id)
            if row["status"] == "resolved":
                raise IncidentError(f"{incident_id} is resolved; there is nothing to escalate")
            self._log(conn, incident_id, self.clock(), "incident.escalated", {"to": to}, actor=actor)

    def unmuted(self) -> Received:
        """Alerts a silence kept from opening an incident that still fire once it is over
        (expired or ended): filed now, as if they had just arrived, the way Alertmanager
        notifies of an alert still firing when its silence expires."""
        muted = (alerts.c.status == "firing") & alerts.c.incident_id.is_(None) & alerts.c.inhibited.is_(False)
        with reading(self.engine) as conn:  # most ticks find none: no write lock for that
            still = silenced_lanes(conn, self.clock())
            found = select(alerts.c.alert_id).where(muted, alerts.c.lane.not_in(still) if still else muted)
            if conn.scalar(found.limit(1)) is None:
                return Received()
        result = Received()
        with self._lock, self.engine.begin() as conn:
            self._begin(conn)
            now = self.clock()
            for row in list(conn.execute(select(alerts).where(muted).order_by(alerts.c.starts_at)).mappings()):
                if muting(conn, row["lane"], now) is None:
                    self._file_firing(conn, _alert_of(row), now, result)
        return result

    def flapping(self) -> set[str]:
        """Incidents flapping now, among those changed within the quiet time (a flapping one
        changed at its last flap at the latest)."""
        if not self.damping.on:
            return set()
        now = self.clock()
        since = now - self.damping.quiet - timedelta(minutes=1)
        with reading(self.engine) as conn:
            rows = conn.execute(select(incidents.c.incident_id, incidents.c.flaps).where(incidents.c.updated_at >= since)).all()
        return {row.incident_id for row in rows if self.damping.flapping(flap_times(row.flaps), now)}

    def _row(self, conn: Connection, incident_id: str) -> Any:
        row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().first()
        if row is None:
            raise IncidentError(f"no incident {incident_id}")
        return row

    def due(self) -> list[Notification]:
        """Notifications due now, each handed out once: marked sent before this returns, and
        the summary each asks for marked wanted in the same commit (a crash before it ran
        leaves it wanted, and the next start runs it)."""
        with self._lock, self.engine.begin() as conn:
            self._begin(conn)
            now = self.clock()
            rows = conn.execute(
                select(incidents).where(
                    (incidents.c.notify_at <= now)
                    | ((incidents.c.status != "resolved") & (incidents.c.notified_at <= now - self.routing.repeat_interval))
                )
            ).mappings()
            out: list[Notification] = []
            for row in list(rows):
                reason: Literal["opened", "updated", "resolved", "repeat"]
                if row["notified_at"] is None:
                    reason = "opened"
                elif row["status"] == "resolved":
                    reason = "resolved"
                else:
                    reason = "updated" if row["pending_change"] else "repeat"
                wanted = {} if reason == "repeat" else {"summary_wanted_at": now}  # a repeat re-sends, it re-summarizes nothing
                conn.execute(
                    update(incidents)
                    .where(incidents.c.incident_id == row["incident_id"])
                    .values(notified_at=now, notify_at=None, pending_change=False, **wanted)
                )
                self._log(conn, row["incident_id"], now, "notified", {"reason": reason})
                out.append(Notification(row["incident_id"], reason))
        return out


def _alert_detail(alert: Alert, **extra: str) -> dict[str, Any]:
    return {"alert_id": alert.alert_id, "name": alert.name, "lane": alert.lane, "source": alert.source, **extra}


def _alert_of(row: Any) -> Alert:
    return Alert(
        source=row["source"],
        fingerprint=row["fingerprint"],
        status=row["status"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        lane=row["lane"],
        name=row["name"],
        labels=dict(row["labels"]),
        annotations=dict(row["annotations"]),
        url=row["url"],
    )
