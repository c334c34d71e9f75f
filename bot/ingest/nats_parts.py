"""What the NATS consumer is told and tells: where to consume, what a commit did with a
batch, its counters and its backoff (``bot.ingest.nats`` consumes with them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class NatsSource:
    """Where the events are and how to consume them.

    ``ack_wait`` only applies when this consumer creates the durable; an existing durable keeps
    the settings its owners gave it. ``fetch_wait`` is how long one pull waits for messages and
    so also how long ``stop`` may take to be noticed while idle.
    """

    url: str = "nats://127.0.0.1:4222"  # several servers: comma-separated
    stream: str = "SETTLEMENT"
    subject: str = "settlement.events"  # may be a wildcard like "settlement.events.>"
    durable: str = "lanekeeper"
    batch: int = 500  # messages fetched per pull
    create_stream: bool = False  # dev/test; production streams are provisioned by their owners
    ack_wait: float = 30.0
    fetch_wait: float = 1.0
    ack_timeout: float = 5.0  # how long to wait for the server to confirm one batch's acks
    connect_timeout: int = 5

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, not {self.batch}")
        for name in ("ack_wait", "fetch_wait", "ack_timeout", "connect_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What ``commit`` did with one fetched batch.

    ``committed=False``: the commit failed (store down), nothing is acked and every message is
    delivered again. ``rejected``: index of a message in the batch -> why it holds no valid
    event; such a message is terminated (redelivering it could never succeed).
    """

    committed: bool
    rejected: dict[int, str] = field(default_factory=dict)


# Given the raw payloads of one fetched batch (each one event JSON or several NDJSON lines),
# commits the valid events and says what was rejected. Its declared failure mode is
# ``committed=False``; an exception is a bug (or a crash) and stops the consumer unacked.
Commit = Callable[[list[bytes]], Awaitable[BatchOutcome]]


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    """Counters since the consumer was created; a snapshot, safe to keep."""

    fetched: int = 0  # messages received, redeliveries included
    committed_batches: int = 0
    acked: int = 0  # acks the server confirmed
    terminated: int = 0  # rejected messages, never redelivered
    naked: int = 0  # messages handed back for redelivery after a failed commit
    ack_failures: int = 0  # acks not confirmed: those messages come back after ack_wait
    commit_failures: int = 0
    connects: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential delays after consecutive failures (connection or commit): initial, 2x, ... up to maximum."""

    initial: float = 0.5
    maximum: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f"need 0 < initial <= maximum, not {self.initial}, {self.maximum}")

    def delay(self, failures: int) -> float:
        return min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))


class NatsConfigError(Exception):
    """The source does not match the server (missing stream, a durable with another filter or ack policy).
    Logged as an error and retried with backoff like a lost connection: only its owners can fix it,
    and the consumer binds as soon as they have (a consumer that stopped for good, as it did,
    stayed stopped after the stream was created, with ``/healthz`` still 200)."""
