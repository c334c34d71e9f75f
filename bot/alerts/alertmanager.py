"""Alertmanager's webhook payload, version 4 (``webhook_config``), taken unchanged."""

from __future__ import annotations

from typing import Literal

from bot.alerts.common import AlertmanagerAlert, AlertmanagerShaped, load
from bot.alerts.model import Alert


class AlertmanagerPayload(AlertmanagerShaped):
    version: Literal["4"]
    alerts: list[AlertmanagerAlert]


def parse_alertmanager(body: bytes, lane_label: str = "lane") -> list[Alert]:
    payload = load(AlertmanagerPayload, body)
    return [a.to_alert("alertmanager", lane_label) for a in payload.alerts]
