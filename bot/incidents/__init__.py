"""Incidents: alerts grouped, deduplicated and inhibited the way Alertmanager does it."""

from bot.incidents.engine import IncidentEngine, IncidentError, Notification, Received
from bot.incidents.rules import Matcher, Routing

__all__ = ["IncidentEngine", "IncidentError", "Matcher", "Notification", "Received", "Routing"]
