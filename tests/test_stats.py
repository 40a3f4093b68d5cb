"""The statistics over seeds: IQM, its bootstrap interval, the Wilson interval and performance profiles."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.stats import Interval, bootstrap_iqm, iqm, iqm_interval, performance_profile, wilson_interval


def test_iqm_drops_a_quarter_of_the_runs_at_each_end() -> None:
    assert iqm([8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 5.0, 4.0]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.5)  # the outlier is dropped
    assert iqm([1.0, 2.0, 3.0, 4.0, 1000.0]) == pytest.approx(3.0)  # floor(5 / 4) = 1 at each end
    assert iqm([5.0, 9.0]) == pytest.approx(7.0)  # fewer than 4 runs: nothing to drop
    columns = iqm(np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [100.0, -50.0]]), axis=0)
    assert columns.tolist() == pytest.approx([2.5, 15.0])


def test_bootstrap_interval_of_hand_computable_cases() -> None:
    # Two runs 0 and 1: the resampled IQMs are 0, 0.5 and 1 with probabilities 1/4, 1/2, 1/4, so the 2.5 and 97.5
    # percentiles of 2000 resamples are 0 and 1.
    assert iqm_interval([0.0, 1.0]) == Interval(0.5, 0.0, 1.0)
    assert iqm_interval([3.0, 3.0, 3.0]) == Interval(3.0, 3.0, 3.0)  # no spread, no width
    assert iqm_interval([7.0]) == Interval(7.0, 7.0, 7.0)
    # Eight runs 1..8: a resample's IQM lies between its extremes, so the interval lies within [1, 8], holds the IQM
    value = iqm_interval([float(x) for x in range(1, 9)])
    assert value.value == 4.5 and 1.0 <= value.low < 4.5 < value.high <= 8.0


def test_bootstrap_is_seeded_and_works_column_by_column() -> None:
    rng = np.random.default_rng(1)
    curves = rng.normal(size=(10, 3))
    first, second = bootstrap_iqm(curves), bootstrap_iqm(curves)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)  # the same inputs give the same interval
    for column in range(3):
        alone = iqm_interval(curves[:, column])
        assert (alone.value, alone.low, alone.high) == pytest.approx(
            (first[0][column], first[1][column], first[2][column])
        )
    assert bootstrap_iqm(curves, seed=2)[1].tolist() != first[1].tolist()


def test_bootstrap_interval_covers_the_true_iqm_at_about_the_nominal_rate() -> None:
    # A normal distribution is symmetric, so its IQM is its mean, 0. Ten runs per experiment, as compare defaults to.
    rng = np.random.default_rng(2021)
    repetitions = 200
    covered = 0
    for repetition in range(repetitions):
        interval = iqm_interval(rng.normal(size=10), seed=repetition)
        covered += interval.low <= 0.0 <= interval.high
    assert 0.88 <= covered / repetitions <= 0.99


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (3, 10, 0.1078, 0.6032),
        (5, 10, 0.2366, 0.7634),
        (1, 2, 0.0945, 0.9055),
    ],
)
def test_wilson_interval_matches_known_values(successes: int, trials: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, trials)
    assert interval.value == successes / trials
    assert (interval.low, interval.high) == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(3, 2)
    with pytest.raises(ValueError, match="trials >= 1"):
        wilson_interval(0, 0)


def test_performance_profile_counts_runs_reaching_each_score() -> None:
    profile = performance_profile([100.0, 475.0, 500.0, 500.0], np.array([0.0, 100.0, 101.0, 475.0, 500.0, 501.0]))
    assert profile.tolist() == [1.0, 1.0, 0.75, 0.75, 0.5, 0.0]
