"""Alerts from Alertmanager, Grafana and PagerDuty webhooks, as one normalized ``Alert``;
``senders`` is the one table of who may send them and how."""

from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.grafana import parse_grafana
from bot.alerts.model import Alert, LaneRule, PayloadError
from bot.alerts.pagerduty import parse_pagerduty, verify_pagerduty_signature
from bot.alerts.senders import SENDERS, Credentials, Reason, Refusal, Sender, bearer

__all__ = [
    "SENDERS",
    "Alert",
    "Credentials",
    "LaneRule",
    "PayloadError",
    "Reason",
    "Refusal",
    "Sender",
    "bearer",
    "parse_alertmanager",
    "parse_grafana",
    "parse_pagerduty",
    "verify_pagerduty_signature",
]
