"""Time units shared by every layer: stamps are integer nanoseconds, durations float seconds."""

from __future__ import annotations

__all__ = ["NS_PER_S"]

# Nanoseconds per second: ROS stamps (sec, nanosec) and the pipeline's ``stamp_ns`` are integer
# nanoseconds; an int keeps the conversion exact (a float 1e9 loses ns beyond ~104 days).
NS_PER_S = 1_000_000_000
