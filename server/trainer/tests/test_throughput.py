"""throughput.py: the progress event's tokens/s and ETA (the first step's warm-up leaves them after step 2)."""

from __future__ import annotations

import pytest

from repotune_trainer.throughput import Throughput

# (step seconds, tokens) per step, and after the last one: tokens/s, ETA with 100 steps left.
CASES = {
    "no step yet": ([], 0.0, 0.0),
    "the first step alone: the only figure there is": ([(30.0, 1000)], 1000 / 30, 3000.0),
    "a compile-length first step is dropped at the second": ([(30.0, 1000), (0.5, 1000)], 2000.0, 50.0),
    "then an average of the steps after it": ([(30.0, 1000), (0.5, 1000), (1.5, 3000)], 2000.0, 100.0),
}


@pytest.mark.parametrize("steps, tokens_per_s, eta_s", CASES.values(), ids=CASES.keys())
def test_figures(steps, tokens_per_s, eta_s):
    t = Throughput()
    for seconds, tokens in steps:
        t.add(seconds, tokens)
    assert t.tokens_per_s() == pytest.approx(tokens_per_s) and t.eta_s(100) == pytest.approx(eta_s)


def test_window_keeps_the_recent_steps_only():
    t = Throughput(window_steps=3)
    for seconds in (9.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0):
        t.add(seconds, 100)
    assert t.eta_s(10) == pytest.approx(20.0) and t.tokens_per_s() == pytest.approx(50.0)
    assert t.eta_s(-1) == 0.0  # past the end (a resumed run with fewer max_steps) is no time, not negative
