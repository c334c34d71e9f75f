"""Flap damping, decided from an incident's flap times alone (pure; no store).

A lane whose alert resolves and fires again within ``window`` reopens the incident it had
(one thread, one card) instead of opening a new one each round; each reopening is a flap.
Once ``threshold`` flaps came with no quiet time (``quiet``) between them, the lane is
flapping: the card says so and the channel is no longer told of each resolution, until the
lane has been quiet that long. The thread and the timeline still keep every alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from validators.policy import Policy


@dataclass(frozen=True, slots=True)
class Damping:
    window: timedelta = timedelta(0)
    """Reopen an incident that fires again this soon after it resolved (0: never, no damping)."""
    threshold: int = 3
    quiet: timedelta = timedelta(seconds=300)

    @classmethod
    def of(cls, policy: Policy) -> Damping:
        return cls(timedelta(seconds=policy.flap_window_s), policy.flap_threshold, timedelta(seconds=policy.resolved_quiet_s))

    @property
    def on(self) -> bool:
        return self.window > timedelta(0)

    def reopens(self, resolved_at: datetime, now: datetime) -> bool:
        """Whether a firing at ``now`` reopens an incident resolved at ``resolved_at``."""
        return self.on and now - resolved_at <= self.window

    def streak(self, flaps: Sequence[datetime], at: datetime) -> list[datetime]:
        """The flaps up to ``at`` with no quiet time between them, ending with the last one;
        empty when the lane has been quiet since its last flap."""
        past = [f for f in flaps if f <= at]
        if not past or at - past[-1] >= self.quiet:
            return []
        run = [past[-1]]
        for earlier in reversed(past[:-1]):
            if run[0] - earlier >= self.quiet:
                break
            run.insert(0, earlier)
        return run

    def flapping(self, flaps: Sequence[datetime], at: datetime) -> bool:
        """Flapping at ``at``: the channel is not told (the card and the thread still are)."""
        return len(self.streak(flaps, at)) >= self.threshold


NO_DAMPING = Damping()
"""Every firing after a resolution is a new incident (what Alertmanager itself does)."""


def flap_times(raw: Sequence[str] | None) -> list[datetime]:
    """The ``incidents.flaps`` column (ISO strings, as JSON keeps them) as datetimes."""
    return [datetime.fromisoformat(t) for t in raw or []]
