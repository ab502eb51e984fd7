"""Sliding-window rate limits kept in memory: one number, or one team, cannot flood the line."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta


class RateLimiter:
    """Allow at most `limit` events per key within `window`; keys are opaque (hashes, never numbers)."""

    def __init__(self, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: datetime) -> bool:
        """Record an event for key and tell whether it is within the limit."""
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._forget_idle(now)
                events = self._events[key] = deque()
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def _forget_idle(self, now: datetime) -> None:
        """Drop keys with no event in the window (bounded memory under a flood of new keys)."""
        cutoff = now - self.window
        for key in [k for k, v in self._events.items() if not v or v[-1] <= cutoff]:
            del self._events[key]
        if len(self._events) >= self.max_keys:  # still full: forget the oldest half
            for key in sorted(self._events, key=lambda k: self._events[k][-1])[: self.max_keys // 2]:
                del self._events[key]
