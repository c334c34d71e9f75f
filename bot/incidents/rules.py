"""Grouping and inhibition rules, as Alertmanager defines them (pure; no store).

Grouping: alerts whose ``group_by`` labels have the same values belong to one group, and
a group has at most one live incident; alerts without a lane group by sender and name.
Inhibition: while a *source* alert fires (by default ``alertname=LaneDown``), alerts that
share its ``equal`` labels (by default the lane) are silenced: stored and shown on the
incident, but they open nothing and trigger no notification of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.alerts import Alert

LANE = "lane"
"""The name ``group_by`` and ``equal`` use for the alert's lane, whatever label carries it."""


def label_value(alert: Alert, name: str) -> str:
    if name == LANE:
        return alert.lane or ""
    return alert.labels.get(name, "")


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        name, _, value = text.partition("=")
        return cls(name.strip(), value.strip().strip("\"'"))

    def matches(self, alert: Alert) -> bool:
        return label_value(alert, self.name) == self.value


@dataclass(frozen=True, slots=True)
class Routing:
    """How alerts become incidents and when an incident's message is (re)sent."""

    group_by: tuple[str, ...] = (LANE,)
    group_wait: timedelta = timedelta(0)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    inhibit_source: tuple[Matcher, ...] = (Matcher("alertname", "LaneDown"),)
    inhibit_equal: tuple[str, ...] = (LANE,)

    @classmethod
    def from_settings(
        cls,
        *,
        group_by: Sequence[str],
        group_wait: timedelta,
        group_interval: timedelta,
        repeat_interval: timedelta,
        inhibit_source: Sequence[str],
        inhibit_equal: Sequence[str],
    ) -> Routing:
        return cls(
            tuple(group_by),
            group_wait,
            group_interval,
            repeat_interval,
            tuple(Matcher.parse(m) for m in inhibit_source),
            tuple(inhibit_equal),
        )

    def group_key(self, alert: Alert) -> str:
        """``lane=l2-arb`` (several labels joined with ``,``): stable, readable in the store.

        An alert without a lane, grouped by lane, would share ``lane=`` with every other
        lane-less alert of any tool: its sender and name stand in for the lane instead."""
        parts = [(name, label_value(alert, name)) for name in self.group_by]
        if LANE in self.group_by and not alert.lane:
            parts += [(n, v) for n, v in (("sender", alert.source), ("alertname", alert.name)) if n not in self.group_by]
        return ",".join(f"{name}={value}" for name, value in parts)

    def is_source(self, alert: Alert) -> bool:
        """Whether this alert, while firing, silences others (all source matchers hold)."""
        return bool(self.inhibit_source) and all(m.matches(alert) for m in self.inhibit_source)

    def equal_key(self, alert: Alert) -> str:
        """The values of the ``equal`` labels, joined (the store indexes it)."""
        return "\x1f".join(label_value(alert, name) for name in self.inhibit_equal)

    def inhibits(self, source: Alert, target: Alert) -> bool:
        """Alertmanager's rule: a firing source silences a target with the same ``equal``
        labels; an alert never silences itself or another source."""
        return (
            source.status == "firing"
            and self.is_source(source)
            and not self.is_source(target)
            and self.equal_key(source) == self.equal_key(target)
        )
