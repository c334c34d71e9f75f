"""Alertmanager's webhook payload, version 4 (``webhook_config``), taken unchanged."""

from __future__ import annotations

from typing import Literal

from bot.alerts.common import AlertmanagerAlert, AlertmanagerShaped, load
from bot.alerts.model import BY_LANE_LABEL, Alert, LaneRule


class AlertmanagerPayload(AlertmanagerShaped):
    version: Literal["4"]
    alerts: list[AlertmanagerAlert]


def parse_alertmanager(body: bytes, lanes: LaneRule = BY_LANE_LABEL) -> list[Alert]:
    payload = load(AlertmanagerPayload, body)
    return [a.to_alert("alertmanager", lanes.label) for a in payload.alerts]
