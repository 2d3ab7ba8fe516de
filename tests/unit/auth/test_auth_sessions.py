"""Session lifetimes: idle and absolute expiry at their exact boundaries, ended sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maat.auth.sessions import SessionLimits, SessionTimes, session_refusal, should_touch

LIMITS = SessionLimits(
    idle=timedelta(minutes=30), absolute=timedelta(hours=12), touch_interval=timedelta(minutes=1)
)
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def test_fresh_session_is_usable() -> None:
    assert session_refusal(SessionTimes(T0, T0), T0, LIMITS) is None


def test_session_just_before_idle_limit_is_usable() -> None:
    times = SessionTimes(T0, T0)
    assert session_refusal(times, T0 + LIMITS.idle - TICK, LIMITS) is None


def test_idle_session_is_refused_at_the_idle_limit() -> None:
    times = SessionTimes(T0, T0)
    reason = session_refusal(times, T0 + LIMITS.idle, LIMITS)
    assert reason is not None
    assert "idle" in reason


def test_activity_extends_idle_lifetime() -> None:
    seen = T0 + timedelta(minutes=25)
    times = SessionTimes(T0, seen)
    assert session_refusal(times, T0 + timedelta(minutes=50), LIMITS) is None
    assert session_refusal(times, seen + LIMITS.idle, LIMITS) is not None


def test_always_active_session_is_refused_at_the_absolute_limit() -> None:
    now = T0 + LIMITS.absolute
    times = SessionTimes(T0, now - timedelta(seconds=1))  # used a second ago
    reason = session_refusal(times, now, LIMITS)
    assert reason is not None
    assert "absolute" in reason


def test_active_session_just_before_absolute_limit_is_usable() -> None:
    now = T0 + LIMITS.absolute - TICK
    assert session_refusal(SessionTimes(T0, now), now, LIMITS) is None


def test_ended_session_is_refused_even_when_fresh() -> None:
    times = SessionTimes(T0, T0, ended_at=T0)
    assert session_refusal(times, T0 + timedelta(seconds=1), LIMITS) == "session ended"


def test_session_ended_in_the_future_is_still_refused() -> None:
    # ended_at is a fact, not a schedule: once set, the session is unusable.
    times = SessionTimes(T0, T0, ended_at=T0 + timedelta(hours=1))
    assert session_refusal(times, T0, LIMITS) == "session ended"


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(0), False),
        (timedelta(seconds=59), False),
        (timedelta(minutes=1) - TICK, False),
        (timedelta(minutes=1), True),
        (timedelta(minutes=5), True),
    ],
)
def test_last_seen_is_written_only_after_touch_interval(elapsed: timedelta, expected: bool) -> None:
    times = SessionTimes(T0, T0)
    assert should_touch(times, T0 + elapsed, LIMITS) is expected
