"""The store's tables (SQLAlchemy Core). Alembic migrations create them; this module is
what the code queries against, and a test checks the two never drift apart.

Event times are integers (microseconds since the epoch, UTC): they index, sort and compare
the same in SQLite and PostgreSQL, and cost nothing to convert on the ingest hot path.
Other times are timezone-aware datetimes through ``UtcDateTime``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

from validators.events import SettlementFailed, SettlementFinalized, kind_of


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on both backends (SQLite would otherwise hand back
    naive datetimes and comparisons with aware ones would raise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)
LANE = String(200)
"""Contract v1.1: a lane id is at most 200 characters."""

TERMINAL = text(f"kind IN ('{kind_of(SettlementFinalized)}', '{kind_of(SettlementFailed)}')")
"""Settlement-ending events, as SQL."""
SETTLEMENT_EVENT = text("settlement_id IS NOT NULL")
"""The partial index's predicate: an equality on ``settlement_id`` implies it, so both
SQLite and PostgreSQL use the index for one settlement's events."""

OPEN = text("status IN ('suggested', 'executing') OR (status = 'approved' AND outcome IS NULL)")
"""Actions not yet finished (bot.actions.records.is_open, as SQL for the partial unique index):
an approval handed to a person (runbook, drill) is finished for the bot."""

events = Table(
    "events",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("lane", LANE, nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("settlement_id", String(200)),
    Column("body", Text, nullable=False),
    Index(None, "lane", "ts_us"),
    # Settlement events only (prices, queue depths, canaries and batches carry no settlement
    # id): a dispute's trace reads one settlement's events, and the start-up rebuild asks
    # whether one ended. It replaced a terminal-events-only index (migration 0007).
    Index("ix_events_settlement_id", "settlement_id", postgresql_where=SETTLEMENT_EVENT, sqlite_where=SETTLEMENT_EVENT),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", ID, primary_key=True),
    Column("source", String(16), nullable=False),
    Column("fingerprint", String(200), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime),
    Column("status", String(16), nullable=False),
    Column("lane", LANE),
    Column("name", String(200), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("url", Text),
    Column("group_key", String(400), nullable=False),
    Column("equal_key", String(400), nullable=False),
    Column("is_source", Boolean, nullable=False),
    Column("incident_id", ID, ForeignKey("incidents.incident_id")),
    Column("inhibited", Boolean, nullable=False),
    Column("received", Integer, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    UniqueConstraint("source", "fingerprint", "starts_at"),
    Index(None, "incident_id"),
    Index(None, "equal_key", "status"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", ID, primary_key=True),
    Column("group_key", String(400), nullable=False),
    Column("lanes", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16)),
    Column("title", Text, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("first_alert_at", UtcDateTime, nullable=False),
    Column("acked_by", String(64)),
    Column("acked_at", UtcDateTime),
    Column("notify_at", UtcDateTime),
    Column("notified_at", UtcDateTime),
    Column("pending_change", Boolean, nullable=False),
    # Set when a notification asks for a summary, cleared in the transaction that queues the
    # summary's card: a summary cut short by a crash is run again at start-up.
    Column("summary_wanted_at", UtcDateTime),
    # What people type: ``#7``. One sequence over all incidents (ids restart daily).
    Column("number", Integer, nullable=False, unique=True),
    # What the card shows, as data (figures, severity and its reason, the summary), so any
    # process can draw it again after an acknowledgement or a resolution.
    Column("card", JSON),
    # The last timeline entry told in the incident's thread.
    Column("thread_entry_id", Integer, nullable=False, server_default=text("0")),
    # When it fired again soon after it resolved and was reopened (flap damping), oldest first.
    Column("flaps", JSON, nullable=False, server_default=text("'[]'")),
    # Escalation while nobody acknowledges: steps taken, counted from ``escalation_since``.
    Column("escalation_step", Integer, nullable=False, server_default=text("0")),
    Column("escalation_since", UtcDateTime),
    Index(None, "group_key", "status"),
    Index(None, "status"),
)

timeline = Table(
    "incident_timeline",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ID, ForeignKey("incidents.incident_id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(64)),
    Column("detail", JSON, nullable=False),
    Index(None, "incident_id", "entry_id"),
)

llm_calls = Table(
    "llm_calls",
    metadata,
    Column("call_id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ID, ForeignKey("incidents.incident_id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("template_version", String(64), nullable=False),
    Column("template_sha256", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("raw_output", Text),
    Column("report", JSON),
    Column("outcome", String(32), nullable=False),
    Column("latency_ms", Integer),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "incident_id", "call_id"),
)

actions = Table(
    "actions",
    metadata,
    Column("action_id", ID, primary_key=True),
    Column("incident_id", ID, ForeignKey("incidents.incident_id"), nullable=False),
    Column("call_id", Integer, ForeignKey("llm_calls.call_id")),
    Column("kind", String(64), nullable=False),
    Column("lane", LANE, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("approvals_needed", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    Column("outcome", Text),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Index(None, "incident_id"),
    # One open action of a kind per lane and incident: two open rollbacks could each be approved.
    Index("uq_actions_open", "incident_id", "kind", "lane", unique=True, postgresql_where=OPEN, sqlite_where=OPEN),
)

approvals = Table(
    "approvals",
    metadata,
    Column("approval_id", Integer, primary_key=True, autoincrement=True),
    Column("action_id", ID, ForeignKey("actions.action_id"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", Text),
    Column("at", UtcDateTime, nullable=False),
    UniqueConstraint("action_id", "user_id"),
)

slack_messages = Table(
    "slack_messages",
    metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ID, ForeignKey("incidents.incident_id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("ts", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("incident_id", "purpose", "channel"),
)

outbox = Table(
    "outbox",
    metadata,
    # Slack messages waiting to be sent, in the order queued: one row per (incident,
    # purpose), its message replaced by a newer version while it waits (coalescing).
    Column("outbox_id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", ID, ForeignKey("incidents.incident_id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("message", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("queued_at", UtcDateTime, nullable=False),
    # When a post of this row was sent without its answer recorded: Slack may hold it
    # already, so the next attempt looks for it before posting again.
    Column("attempted_at", UtcDateTime),
    UniqueConstraint("incident_id", "purpose"),
)

lane_silences = Table(
    "lane_silences",
    metadata,
    # A lane muted from Slack: new incidents on it are not opened until ``ends_at`` (or until
    # someone ends it). Rows are never deleted: they are the audit trail of who muted what, why.
    Column("silence_id", Integer, primary_key=True, autoincrement=True),
    Column("lane", LANE, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("ended_by", String(64)),
    Column("alerts_muted", Integer, nullable=False, server_default=text("0")),
    Index(None, "lane", "ends_at"),
)

lane_status = Table(
    "lane_status",
    metadata,
    Column("lane", LANE, primary_key=True),
    Column("watermark", UtcDateTime, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("events_in_window", Integer, nullable=False),
    Column("facts", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

store_probe = Table(
    "store_probe",
    metadata,
    # One row the health check rewrites (at most every 30 s): whether the store takes a write.
    Column("probe_id", Integer, primary_key=True, autoincrement=False),
    Column("written_at", UtcDateTime, nullable=False),
)

slack_seen = Table(
    "slack_seen",
    metadata,
    # A Slack request signature ("sig:v0=…") or event id ("event:Ev…") already taken, by any
    # replica; seen_at in microseconds since the epoch (wall clock: Slack's timestamps are).
    Column("key", String(160), primary_key=True),
    Column("seen_at", BigInteger, nullable=False),
    Index("ix_slack_seen_seen_at", "seen_at"),
)
