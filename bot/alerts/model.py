"""One alert, whichever tool sent it: what the incident engine needs and nothing tool-specific."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Source = Literal["alertmanager", "grafana", "pagerduty"]
Status = Literal["firing", "resolved"]


class PayloadError(ValueError):
    """A webhook payload that cannot be taken: 400 when it is not a JSON object, 422 when it
    is JSON of the wrong shape. ``reason`` names where (``alerts[2].startsAt``) and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LaneRule:
    """Where an alert's lane is found: the label of this name (``LANEKEEPER_LANE_LABEL``);
    for PagerDuty, whose webhooks carry no labels, the lane the policy gives its service."""

    label: str = "lane"
    pagerduty_services: Mapping[str, str] = field(default_factory=dict)


BY_LANE_LABEL = LaneRule()


@dataclass(frozen=True, slots=True)
class Alert:
    source: Source
    fingerprint: str
    status: Status
    starts_at: datetime
    ends_at: datetime | None
    lane: str | None
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    url: str | None

    @property
    def alert_id(self) -> str:
        """Stable across re-deliveries and across firing/resolved: Alertmanager's identity of
        an alert is its fingerprint plus when it started."""
        key = f"{self.source}|{self.fingerprint}|{self.starts_at.isoformat()}"
        return "alr-" + hashlib.sha256(key.encode()).hexdigest()[:16]
