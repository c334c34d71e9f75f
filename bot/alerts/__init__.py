"""Alerts from Alertmanager, Grafana and PagerDuty webhooks, as one normalized ``Alert``."""

from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.grafana import parse_grafana
from bot.alerts.model import Alert, PayloadError
from bot.alerts.pagerduty import parse_pagerduty, verify_pagerduty_signature

__all__ = ["Alert", "PayloadError", "parse_alertmanager", "parse_grafana", "parse_pagerduty", "verify_pagerduty_signature"]
