"""Grafana's webhook contact point payload (unified alerting): Alertmanager's shape plus
Grafana's own fields, taken unchanged."""

from __future__ import annotations

from bot.alerts.common import AlertmanagerAlert, AlertmanagerShaped, load
from bot.alerts.model import BY_LANE_LABEL, Alert, LaneRule


class GrafanaAlert(AlertmanagerAlert):
    values: dict[str, float | None] | None = None
    valueString: str = ""
    silenceURL: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    imageURL: str | None = None

    def url(self) -> str | None:
        return self.panelURL or self.dashboardURL or self.generatorURL or None


class GrafanaPayload(AlertmanagerShaped):
    version: str = "1"
    orgId: int | None = None
    title: str = ""
    state: str = ""
    message: str = ""
    alerts: list[GrafanaAlert]


def parse_grafana(body: bytes, lanes: LaneRule = BY_LANE_LABEL) -> list[Alert]:
    payload = load(GrafanaPayload, body)
    return [a.to_alert("grafana", lanes.label) for a in payload.alerts]
