"""What Alertmanager-shaped payloads share (Grafana's webhook extends Alertmanager's), and
the turning of pydantic's errors into one ``PayloadError`` naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StrictStr, ValidationError

from bot.alerts.model import Alert, PayloadError, Source
from validators.events import TS_END, TS_MIN

GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
Labels = dict[StrictStr, StrictStr]


def _bounded(ts: datetime) -> datetime:
    """UTC, within the contract's years (2000 to 2100): every incident window is computed
    from an alert's start, and a year 0001 or 9999 overflowed each of them. Compared as
    instants first (converting year 0001 at +01:00 to UTC would itself overflow)."""
    if not TS_MIN <= ts < TS_END:
        raise ValueError(f"{ts.isoformat()} is outside years {TS_MIN.year} to {TS_END.year - 1}")
    return ts.astimezone(UTC)


def _bounded_or_zero(ts: datetime) -> datetime:
    """An end time: bounded, or Go's zero time (Alertmanager's "no end yet")."""
    return GO_ZERO_TIME if ts == GO_ZERO_TIME else _bounded(ts)


UtcTime = Annotated[AwareDatetime, AfterValidator(_bounded)]
EndTime = Annotated[AwareDatetime, AfterValidator(_bounded_or_zero)]


class Tolerant(BaseModel):
    """Senders add fields over time; unknown ones are ignored, known ones are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class AlertmanagerAlert(Tolerant):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = {}
    startsAt: UtcTime  # the senders' own field names, camelCase and all
    endsAt: EndTime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None

    def url(self) -> str | None:
        return self.generatorURL or None

    def to_alert(self, source: Source, lane_label: str) -> Alert:
        ends = None if self.endsAt is None or self.endsAt <= GO_ZERO_TIME else self.endsAt
        return Alert(
            source=source,
            fingerprint=self.fingerprint or fingerprint(self.labels),
            status=self.status,
            starts_at=self.startsAt,
            ends_at=ends,
            lane=self.labels.get(lane_label) or None,
            name=self.labels.get("alertname", ""),
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            url=self.url(),
        )


class AlertmanagerShaped(Tolerant):
    """The group envelope both Alertmanager and Grafana send."""

    receiver: str = ""
    status: Literal["firing", "resolved"]
    groupLabels: Labels = {}
    commonLabels: Labels = {}
    commonAnnotations: Labels = {}
    externalURL: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0


_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, (1 << 64) - 1


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's ``LabelSet.Fingerprint``: FNV-1a 64 over names and values sorted by
    name, each followed by the separator byte 0xff; used when a sender gives none."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


M = TypeVar("M", bound=BaseModel)


def load(model: type[M], body: bytes) -> M:
    """Parse ``body`` as ``model``, or raise one PayloadError saying where and why."""
    try:
        doc: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(400, f"not JSON: {exc}") from None
    except RecursionError:  # json.loads recurses per level: [[[[… 100,000 deep escaped it as a 500
        raise PayloadError(400, "not JSON this bot reads: nested too deep") from None
    if not isinstance(doc, dict):
        raise PayloadError(400, f"expected a JSON object, got {type(doc).__name__}")
    return validate(model, doc)


def validate(model: type[M], doc: Any, at: tuple[int | str, ...] = ()) -> M:
    """``doc`` (found at ``at`` in the payload) as ``model``, or one PayloadError."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise PayloadError(422, f"{where(at + tuple(error['loc']))}: {error['msg']}") from None


def where(loc: tuple[int | str, ...]) -> str:
    """``('alerts', 1, 'startsAt')`` -> ``alerts[1].startsAt``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "payload"
