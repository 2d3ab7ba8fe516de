"""Session lifetime rules: idle timeout, absolute timeout, when to record activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SessionTimes:
    """When a session was created and last used, and when it was ended (if it was)."""

    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class SessionLimits:
    """Idle and absolute lifetimes; ``touch_interval`` throttles last-seen writes."""

    idle: timedelta
    absolute: timedelta
    touch_interval: timedelta


def session_refusal(times: SessionTimes, now: datetime, limits: SessionLimits) -> str | None:
    """Why the session may no longer be used, or ``None`` when it may.

    1. A session that was ended (logout, user disabled) is refused.
    2. A session older than the absolute lifetime is refused, however active.
    3. A session unused for longer than the idle lifetime is refused.
    """
    if times.ended_at is not None:
        return "session ended"
    if now - times.created_at >= limits.absolute:
        return "session expired (absolute lifetime reached)"
    if now - times.last_seen_at >= limits.idle:
        return "session expired (idle)"
    return None


def should_touch(times: SessionTimes, now: datetime, limits: SessionLimits) -> bool:
    """True when last-seen is stale enough to be worth a write."""
    return now - times.last_seen_at >= limits.touch_interval
