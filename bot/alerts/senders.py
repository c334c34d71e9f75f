"""The alert senders the server takes webhooks from, one entry each: its payload, how it
authenticates, and where its lane is. The HTTP handler, the OpenAPI schema and the replay
read this table; no sender is a special case anywhere else."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from bot.alerts.alertmanager import AlertmanagerPayload, parse_alertmanager
from bot.alerts.grafana import GrafanaPayload, parse_grafana
from bot.alerts.model import Alert, LaneRule, Source
from bot.alerts.pagerduty import PagerDutyPayload, parse_pagerduty, verify_pagerduty_signature

Reason = Literal["unauthorized", "bad_signature", "malformed", "too_large", "too_slow", "unknown_sender"]
"""Why a request was refused: the ``reason`` label of ``lanekeeper_payloads_rejected_total``."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What senders must prove: ``LANEKEEPER_WEBHOOK_TOKEN`` and ``PAGERDUTY_WEBHOOK_SECRETS``."""

    token: str | None = None
    pagerduty_secrets: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Reason
    message: str


Auth = Callable[[bytes, Mapping[str, str], Credentials], Refusal | None]


def bearer(_: bytes, headers: Mapping[str, str], credentials: Credentials) -> Refusal | None:
    """``Authorization: Bearer <LANEKEEPER_WEBHOOK_TOKEN>`` when a token is set."""
    if credentials.token is None:
        return None
    given = headers.get("authorization", "")
    if hmac.compare_digest(given.encode(), f"Bearer {credentials.token}".encode()):
        return None
    return Refusal("unauthorized", "missing or wrong bearer token (LANEKEEPER_WEBHOOK_TOKEN)")


def pagerduty_signature(body: bytes, headers: Mapping[str, str], credentials: Credentials) -> Refusal | None:
    """PagerDuty signs every V3 webhook: with secrets set, the signature decides; without,
    a bearer token as for the others (a V3 subscription can send it as a custom header)."""
    if not credentials.pagerduty_secrets:
        return bearer(body, headers, credentials)
    if verify_pagerduty_signature(body, headers.get("x-pagerduty-signature"), credentials.pagerduty_secrets):
        return None
    return Refusal("bad_signature", "missing or wrong X-PagerDuty-Signature (PAGERDUTY_WEBHOOK_SECRETS)")


@dataclass(frozen=True, slots=True)
class Sender:
    name: Source
    title: str
    payload: type[BaseModel]
    parse: Callable[[bytes, LaneRule], list[Alert]]
    authenticate: Auth
    auth: str
    lane: str
    """How it authenticates and where its lane is, for people (the OpenAPI schema)."""


BEARER = "a bearer token (LANEKEEPER_WEBHOOK_TOKEN), when one is set"
LABEL = "its label named by LANEKEEPER_LANE_LABEL (default `lane`)"

SENDERS: dict[str, Sender] = {
    s.name: s
    for s in (
        Sender(
            "alertmanager",
            "Alertmanager webhook_config, version 4",
            AlertmanagerPayload,
            parse_alertmanager,
            bearer,
            BEARER,
            LABEL,
        ),
        Sender("grafana", "Grafana webhook contact point", GrafanaPayload, parse_grafana, bearer, BEARER, LABEL),
        Sender(
            "pagerduty",
            "PagerDuty V3 webhook subscription",
            PagerDutyPayload,
            parse_pagerduty,
            pagerduty_signature,
            "its signature (PAGERDUTY_WEBHOOK_SECRETS) when secrets are set, else as the others",
            "its service, by the policy's pagerduty_services",
        ),
    )
}
