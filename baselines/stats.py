"""Statistics over seeds, as Agarwal et al. (2021, "Deep RL at the Edge of the Statistical Precipice") recommend.

- Interquartile mean (IQM): the mean of the middle 50 % of runs, dropping ``floor(n / 4)`` runs at each end (the
  convention of ``scipy.stats.trim_mean(x, 0.25)``, which ``rliable`` uses). Robust to an outlier seed, less noisy
  than the median.
- 95 % percentile bootstrap interval of the IQM: resample the runs with replacement ``resamples`` times and take
  the 2.5 and 97.5 percentiles of the resampled IQMs. The paper stratifies by task (resamples runs within each
  task); every interval here is over one algorithm x env, a single task, so stratification changes nothing.
  The generator is seeded: the same inputs always give the same interval.
- Solve rate: the Wilson score interval, which stays inside [0, 1] and is sensible for 0/n and n/n.

NumPy and the standard library only (``rliable`` pulls pandas, seaborn and arch for these few lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2_000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval."""

    value: float
    low: float
    high: float

    def format(self, number: str = "{:.1f}") -> str:
        """``"value [low, high]"`` with ``number`` as the format of each."""
        value, low, high = (number.format(x) for x in (self.value, self.low, self.high))
        return f"{value} [{low}, {high}]"


def iqm(values: np.ndarray | Sequence[float], axis: int = 0) -> np.ndarray | float:
    """Interquartile mean along ``axis``: the mean after dropping ``floor(n / 4)`` values at each end."""
    ordered = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    n = ordered.shape[axis]
    if n == 0:
        raise ValueError("the IQM of no values is undefined")
    cut = n // 4
    return np.take(ordered, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def bootstrap_iqm(
    values: np.ndarray | Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over runs (axis 0) and its percentile bootstrap interval, for every column of ``values`` at once.

    ``values`` has shape ``(runs,)`` or ``(runs, points)`` (a learning curve per run); returns arrays of the
    trailing shape: the IQM, the lower and the upper bound.
    """
    values = np.asarray(values, dtype=np.float64)
    runs = values.shape[0]
    if runs == 0:
        raise ValueError("a bootstrap needs at least one run")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, runs, size=(resamples, runs))
    replicates = iqm(values[picks], axis=1)  # (resamples, *points)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail], axis=0)
    return np.asarray(iqm(values, axis=0)), low, high


def iqm_interval(values: Sequence[float], **options: float) -> Interval:
    """IQM of ``values`` (one per run) with its bootstrap interval; see ``bootstrap_iqm``."""
    value, low, high = bootstrap_iqm(np.asarray(values, dtype=np.float64), **options)  # type: ignore[arg-type]
    return Interval(float(value), float(low), float(high))


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> Interval:
    """The solve rate ``successes / trials`` with its Wilson score interval."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * np.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials))
    return Interval(rate, max(0.0, centre - half), min(1.0, centre + half))


def performance_profile(scores: Sequence[float], thresholds: np.ndarray) -> np.ndarray:
    """The fraction of runs whose score reaches each threshold (``score >= tau``)."""
    scores = np.asarray(scores, dtype=np.float64)
    return (scores[None, :] >= np.asarray(thresholds, dtype=np.float64)[:, None]).mean(axis=1)


@dataclass(frozen=True)
class RunOutcome:
    """What the summary statistics need from one finished run."""

    test_return: float | None  # None: the run has no test evaluation (reported as missing)
    solved_env_steps: float | None  # None: not solved
    solved_wall_seconds: float | None
    budget_env_steps: float  # what an unsolved run counts as
    wall_seconds: float


@dataclass(frozen=True)
class GroupSummary:
    """One algorithm x env over its finished runs: IQMs with bootstrap intervals, and the solve rate."""

    runs: int
    solved: int
    solve_rate: Interval
    unsolved_at_budget: int  # runs counted at their budget in the steps and seconds to solve
    missing_test: int
    test_return: Interval | None
    env_steps_to_solve: Interval
    wall_seconds_to_solve: Interval


def summarise_runs(outcomes: Sequence[RunOutcome]) -> GroupSummary:
    """Unsolved runs count as their env-step budget and their whole wall time, so the IQM of "time to solve" does
    not flatter an algorithm by forgetting the runs that never got there."""
    if not outcomes:
        raise ValueError("no finished runs to summarise")
    solved = [run for run in outcomes if run.solved_env_steps is not None]
    tests = [run.test_return for run in outcomes if run.test_return is not None]
    steps = [run.budget_env_steps if run.solved_env_steps is None else run.solved_env_steps for run in outcomes]
    seconds = [run.wall_seconds if run.solved_wall_seconds is None else run.solved_wall_seconds for run in outcomes]
    return GroupSummary(
        runs=len(outcomes),
        solved=len(solved),
        solve_rate=wilson_interval(len(solved), len(outcomes)),
        unsolved_at_budget=len(outcomes) - len(solved),
        missing_test=len(outcomes) - len(tests),
        test_return=iqm_interval(tests) if tests else None,
        env_steps_to_solve=iqm_interval(steps),
        wall_seconds_to_solve=iqm_interval(seconds),
    )
