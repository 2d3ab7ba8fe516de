"""Login throttling: a token bucket per client and lockout after repeated failures."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by client; bounded in memory (least recently used dropped).

    ``rate_per_minute`` tokens are added per minute up to ``burst``; each attempt takes one.
    Thread-safe, since the API serves requests from a thread pool.
    """

    def __init__(self, *, rate_per_minute: int, burst: int, max_keys: int = 100_000) -> None:
        self._rate = rate_per_minute / 60.0
        self._burst = float(max(burst, 1))
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> int:
        """Take one token for ``key`` at ``now`` (seconds); 0 if allowed, else seconds to wait."""
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(self._burst, now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
            bucket.updated = now
            self._buckets[key] = bucket
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            if self._rate <= 0:
                return 60
            return max(1, math.ceil((1.0 - bucket.tokens) / self._rate))


@dataclass(frozen=True)
class LockoutPolicy:
    """Lock an account for ``duration`` after ``threshold`` consecutive failures."""

    threshold: int
    duration: timedelta

    def after_failure(self, failures: int, now: datetime) -> datetime | None:
        """The lock expiry after the ``failures``-th consecutive failure, if it locks."""
        if self.threshold > 0 and failures >= self.threshold:
            return now + self.duration
        return None
