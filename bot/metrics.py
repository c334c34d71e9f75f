"""Prometheus metrics, one registry per running bot (tests run several side by side).

What an operator alerts on: events and alerts rejected (a sender is broken), incidents
open, a lane's watermark falling behind (a lane went silent), a lane's trust score falling,
request latency.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "lanekeeper_events",
            "Settlement events received, by source (http, nats) and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.alerts = Counter(
            "lanekeeper_alerts",
            "Alerts received, by sender and outcome (new, duplicate, resolved, inhibited, muted)",
            ["sender", "outcome"],
            registry=r,
        )
        self.payloads_rejected = Counter(
            "lanekeeper_payloads_rejected",
            "Webhook and /events requests refused, by sender (alertmanager, grafana, pagerduty, events, unknown) "
            "and reason (unauthorized, bad_signature, malformed, too_large, unknown_sender)",
            ["sender", "reason"],
            registry=r,
        )
        self.notifications = Counter("lanekeeper_notifications", "Incident notifications due, by reason", ["reason"], registry=r)
        self.incidents_open = Gauge("lanekeeper_incidents_open", "Incidents not resolved", registry=r)
        self.lane_watermark = Gauge(
            "lanekeeper_lane_watermark_timestamp_seconds", "Newest event time seen per lane (unix seconds)", ["lane"], registry=r
        )
        self.lane_trust = Gauge(
            "lanekeeper_lane_trust_score",
            "Trust score per lane, 0 to 100 (docs/policy.md), over the status window",
            ["lane"],
            registry=r,
        )
        self.outbox_depth = Gauge("lanekeeper_outbox_depth", "Slack messages queued, not yet delivered", registry=r)
        self.slack_calls = Counter(
            "lanekeeper_slack_calls",
            "Slack Web API calls by the outbox, by method and outcome (ok, ratelimited, refused, error)",
            ["method", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "lanekeeper_http_request_duration_seconds",
            "HTTP request latency by route and status",
            ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
