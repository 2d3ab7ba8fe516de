"""Login throttling: token buckets per client (bounded memory) and account lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maat.auth.throttle import LockoutPolicy, RateLimiter

# One token per second, five in a burst: easy arithmetic, all times are explicit.
RATE = 60
BURST = 5


def _limiter(max_keys: int = 100_000) -> RateLimiter:
    return RateLimiter(rate_per_minute=RATE, burst=BURST, max_keys=max_keys)


def _exhaust(limiter: RateLimiter, key: str, now: float) -> None:
    for _ in range(BURST):
        assert limiter.take(key, now) == 0


def test_burst_is_allowed_then_password_guessing_is_refused_with_a_wait() -> None:
    limiter = _limiter()
    _exhaust(limiter, "10.0.0.1", 1000.0)
    wait = limiter.take("10.0.0.1", 1000.0)
    assert wait > 0
    assert wait == 1  # one token per second


def test_refusals_keep_being_refused_while_no_time_passes() -> None:
    limiter = _limiter()
    _exhaust(limiter, "k", 0.0)
    assert all(limiter.take("k", 0.0) > 0 for _ in range(20))


def test_slow_rate_reports_longer_wait() -> None:
    limiter = RateLimiter(rate_per_minute=2, burst=1)
    assert limiter.take("k", 0.0) == 0
    assert limiter.take("k", 0.0) == 30


def test_bucket_refills_over_time() -> None:
    limiter = _limiter()
    _exhaust(limiter, "k", 0.0)
    assert limiter.take("k", 0.5) > 0
    assert limiter.take("k", 1.0) == 0  # half a token + half a token
    assert limiter.take("k", 1.0) > 0


def test_refill_never_exceeds_burst() -> None:
    limiter = _limiter()
    _exhaust(limiter, "k", 0.0)
    later = 10_000.0
    _exhaust(limiter, "k", later)
    assert limiter.take("k", later) > 0


def test_clock_going_backwards_grants_nothing() -> None:
    limiter = _limiter()
    _exhaust(limiter, "k", 100.0)
    assert limiter.take("k", 50.0) > 0


def test_keys_are_throttled_independently() -> None:
    limiter = _limiter()
    _exhaust(limiter, "attacker", 0.0)
    assert limiter.take("attacker", 0.0) > 0
    assert limiter.take("victim", 0.0) == 0


def test_zero_rate_refuses_after_burst_forever() -> None:
    limiter = RateLimiter(rate_per_minute=0, burst=1)
    assert limiter.take("k", 0.0) == 0
    assert limiter.take("k", 1e9) == 60


def test_zero_burst_still_allows_one_attempt() -> None:
    limiter = RateLimiter(rate_per_minute=60, burst=0)
    assert limiter.take("k", 0.0) == 0
    assert limiter.take("k", 0.0) > 0


def test_memory_is_bounded_least_recently_used_key_is_dropped() -> None:
    limiter = _limiter(max_keys=2)
    _exhaust(limiter, "a", 0.0)
    _exhaust(limiter, "b", 0.0)
    assert limiter.take("c", 0.0) == 0  # third key: "a" (least recent) is forgotten
    assert limiter.take("b", 0.0) > 0  # "b" is still remembered and still exhausted
    assert limiter.take("a", 0.0) == 0  # "a" starts again with a full bucket


def test_recently_used_key_survives_eviction() -> None:
    limiter = _limiter(max_keys=2)
    _exhaust(limiter, "a", 0.0)
    _exhaust(limiter, "b", 0.0)
    assert limiter.take("a", 0.0) > 0  # touching "a" makes "b" the least recent
    assert limiter.take("c", 0.0) == 0  # evicts "b"
    assert limiter.take("a", 0.0) > 0  # "a" still exhausted: it was not evicted


LOCKOUT = LockoutPolicy(threshold=5, duration=timedelta(minutes=15))
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("failures", [0, 1, 4])
def test_failures_below_threshold_do_not_lock(failures: int) -> None:
    assert LOCKOUT.after_failure(failures, NOW) is None


@pytest.mark.parametrize("failures", [5, 6, 100])
def test_account_locks_at_threshold_for_the_duration(failures: int) -> None:
    assert LOCKOUT.after_failure(failures, NOW) == NOW + timedelta(minutes=15)


def test_threshold_zero_disables_lockout() -> None:
    policy = LockoutPolicy(threshold=0, duration=timedelta(minutes=15))
    assert policy.after_failure(1000, NOW) is None
