"""PagerDuty V3 webhooks (webhook subscriptions), taken unchanged.

One delivery is one event: ``{"event": {"id", "event_type", "resource_type", "occurred_at",
"agent", "client", "data"}}``. An event whose ``data`` is an incident or an alert with a
status becomes one alert: ``resolved`` stays resolved, anything else (triggered,
acknowledged, escalated, reopened, …) fires. Other events (notes, services, …) are taken and
give nothing to store.

- fingerprint: the incident's (or alert's) id; starts_at: its ``created_at``, which the
  triggered and the resolved deliveries both carry, so they are one alert; ``occurred_at``
  only when ``created_at`` is missing.
- lane: the one the policy's ``pagerduty_services`` gives the incident's service
  (``data.service.id``). A V3 incident carries its service, priority and urgency, but no
  labels, no Events API ``custom_details`` and no custom field values (those come alone, in
  ``incident.custom_field_values.updated``, an event with no status): the service is the
  only place a lane can be told from, so one service per lane is the setup that works.
- signatures: ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>``, possibly several
  (comma-separated) while a secret rotates.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from pydantic import StrictStr

from bot.alerts.common import Tolerant, UtcTime, load, validate
from bot.alerts.model import BY_LANE_LABEL, Alert, LaneRule


class Reference(Tolerant):
    id: str = ""
    summary: str = ""


class Resource(Tolerant):
    id: StrictStr
    type: StrictStr
    status: str | None = None
    title: str | None = None
    summary: str | None = None
    html_url: str | None = None
    created_at: UtcTime | None = None
    incident_key: str | None = None
    alert_key: str | None = None
    urgency: str | None = None
    service: Reference | None = None
    priority: Reference | None = None


class Event(Tolerant):
    id: StrictStr
    event_type: StrictStr
    resource_type: StrictStr
    occurred_at: UtcTime
    data: dict[str, Any]


class PagerDutyPayload(Tolerant):
    event: Event


def parse_pagerduty(body: bytes, lanes: LaneRule = BY_LANE_LABEL) -> list[Alert]:
    event = load(PagerDutyPayload, body).event
    if event.data.get("type") not in ("incident", "alert") or "status" not in event.data:
        return []
    resource = validate(Resource, event.data, ("event", "data"))
    name = resource.title or resource.summary or resource.id
    lane = lanes.pagerduty_services.get(resource.service.id) if resource.service else None
    labels = {
        "alertname": name,
        "service": resource.service.summary if resource.service else "",
        "urgency": resource.urgency or "",
        "priority": resource.priority.summary if resource.priority else "",
        **({lanes.label: lane} if lane else {}),
    }
    return [
        Alert(
            source="pagerduty",
            fingerprint=resource.id,
            status="resolved" if resource.status == "resolved" else "firing",
            starts_at=resource.created_at or event.occurred_at,
            ends_at=event.occurred_at if resource.status == "resolved" else None,
            lane=lane,
            name=name,
            labels={k: v for k, v in labels.items() if v},
            annotations={"summary": name, "pagerduty_event": event.event_type},
            url=resource.html_url,
        )
    ]


def verify_pagerduty_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether any ``v1=`` signature in the header is the body's HMAC under any secret."""
    if not header:
        return False
    given = [part.strip().removeprefix("v1=") for part in header.split(",") if part.strip().startswith("v1=")]
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, g) for g in given):
            return True
    return False
