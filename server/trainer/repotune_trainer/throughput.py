"""Tokens/s and ETA of a training run from the measured time of its recent steps (the `progress` event's figures).

The first step of a run is not like the others: compiled layers compile there (`compile: auto` on CUDA, ~20-30 s
for a 0.5B model on an H200, against ~0.1 s for a step after it), CUDA allocates its pools and kernels autotune. In
a plain average over THROUGHPUT_WINDOW_STEPS steps it would tell a 1,000-step run that it has hours left for its
first 20 steps. So it is reported alone while it is the only step, then dropped from the window.
"""

from __future__ import annotations

import collections

THROUGHPUT_WINDOW_STEPS = 20  # tokens/s and ETA are measured over this many recent steps


class Throughput:
    def __init__(self, window_steps: int = THROUGHPUT_WINDOW_STEPS):
        self._window: collections.deque[tuple[float, int]] = collections.deque(maxlen=window_steps)
        self._first_pending = True  # the run's first step is in the window and has not been dropped yet

    def add(self, seconds: float, tokens: int) -> None:
        """One optimizer step: its wall time and the real tokens it trained on."""
        if not self._first_pending:
            self._window.append((seconds, tokens))
            return
        if self._window:  # the second step: the first one's warm-up leaves the average
            self._window.clear()
            self._first_pending = False
        self._window.append((seconds, tokens))

    def tokens_per_s(self) -> float:
        seconds = sum(dt for dt, _ in self._window)
        return sum(n for _, n in self._window) / seconds if seconds > 0 else 0.0

    def eta_s(self, steps_left: int) -> float:
        if not self._window:
            return 0.0
        return sum(dt for dt, _ in self._window) / len(self._window) * max(0, steps_left)
