"""Domain randomization: physical parameters drawn anew for every episode, from the env's own seeded generator.

``randomize={"length": (0.25, 1.0), "masspole": (0.05, 0.5, "uniform")}`` on ``gym.make``, ``gym.make_vec`` or the
torch env. Each entry is ``(low, high)`` or ``(low, high, distribution)``, with ``distribution`` "uniform" or
"log-uniform". Without one, the scale parameters in ``LOG_UNIFORM`` (masses, pole length, force magnitude, time
step) are drawn log-uniformly, so that a range such as 0.25-1.0 m gives 0.25-0.5 and 0.5-1.0 the same share of
episodes (robustness is judged over factors of the nominal value); every other parameter is drawn uniformly.

>>> import gymnasium as gym
>>> import continuous_cartpole
>>> envs = gym.make_vec("ContinuousCartPole-v0", num_envs=4, randomize={"length": (0.25, 1.0)})
>>> _ = envs.reset(seed=0)
>>> lengths = envs.params.length  # the values in force, one per sub-env
>>> lengths.shape, bool(((0.25 <= lengths) & (lengths <= 1.0)).all())
((4,), True)
>>> envs.randomize.as_dict()
{'length': (0.25, 1.0, 'log-uniform')}
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from continuous_cartpole.physics import NUMERIC_FIELDS, ArrayConstants, CartPoleParams

T = TypeVar("T")  # an ndarray or a tensor

LOG_UNIFORM = frozenset({"masscart", "masspole", "length", "force_mag", "tau"})
DISTRIBUTIONS = ("uniform", "log-uniform")
# What the observation bounds grow with (see CartPoleParams.observation_high): the worst case is their high end...
_GROW_WITH_HIGH = ("x_threshold", "theta_threshold_radians")
_GROW_WITH_LOW = ("tau",)  # ...and the low end of the time step.


@dataclass(frozen=True)
class ParameterRange:
    """One randomized parameter: drawn from [low, high] with ``distribution`` "uniform" or "log-uniform"."""

    name: str
    low: float
    high: float
    distribution: str

    @property
    def log(self) -> bool:
        return self.distribution == "log-uniform"

    @property
    def offset_and_scale(self) -> tuple[float, float]:
        """The draw is ``offset + scale * u`` for u uniform in [0, 1), then ``exp`` of it when log-uniform."""
        low, high = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        return low, high - low

    def spread(self, uniform: T, xp: ModuleType) -> T:
        """Values of the parameter from uniform numbers in [0, 1) (float64 arrays or tensors), clipped to the range.

        ``xp`` is ``numpy`` or ``torch``; the clip only catches the last bit of rounding of ``exp``.
        """
        offset, scale = self.offset_and_scale
        values = offset + scale * uniform
        return xp.clip(xp.exp(values) if self.log else values, self.low, self.high)


@dataclass(frozen=True)
class Randomization:
    """The validated ``randomize`` argument; ``Randomization.of(spec)`` builds it.

    The ranges are kept log-uniform ones first, each group in ``CartPoleParams`` field order, whatever the order
    given: that order maps the random numbers of a draw to the parameters, the same for every env.
    """

    ranges: tuple[ParameterRange, ...]

    @classmethod
    def of(cls, spec: Any) -> Randomization | None:
        """The randomization a ``randomize`` argument asks for (None or ``{}``: none); a one-line error if invalid."""
        if spec is None or isinstance(spec, Randomization):
            return spec or None
        if not isinstance(spec, Mapping):
            raise ValueError(f"randomize must be a dict such as {{'length': (0.25, 1.0)}} or None, got {spec!r}")
        ranges = sorted(
            (_parameter_range(name, entry) for name, entry in spec.items()),
            key=lambda r: (not r.log, NUMERIC_FIELDS.index(r.name)),
        )
        return cls(tuple(ranges)) if ranges else None

    def __bool__(self) -> bool:
        return bool(self.ranges)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.ranges)

    def as_dict(self) -> dict[str, tuple[float, float, str]]:
        """The ranges as a ``randomize`` argument, with the distributions spelled out (for configs and logs)."""
        return {r.name: (r.low, r.high, r.distribution) for r in self.ranges}

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``(len(ranges), count)`` float64 values, one contiguous row per range: from a ``(count, len(ranges))``
        block of ``rng.random``, so one draw of one cart-pole takes the numbers a single env's draw takes. The same
        arithmetic as ``ParameterRange.spread``, for all ranges at once, in place on rows (a few small calls)."""
        offsets, scales, lows, highs = self._columns
        values = rng.random((count, len(self.ranges))).T.copy()  # rows: each call below runs along a whole row
        np.multiply(scales, values, out=values)
        np.add(offsets, values, out=values)
        logs = values[: self._log_count]  # the log-uniform ranges come first
        np.exp(logs, out=logs)
        np.maximum(values, lows, out=values)  # np.clip's Python wrapper costs more than these two
        return np.minimum(values, highs, out=values)

    @cached_property
    def _columns(self) -> tuple[np.ndarray, ...]:
        """Offsets, scales, lows and highs as (len(ranges), 1) columns."""
        offsets, scales = zip(*(r.offset_and_scale for r in self.ranges), strict=True)
        columns = offsets, scales, [r.low for r in self.ranges], [r.high for r in self.ranges]
        return tuple(np.array(column)[:, np.newaxis] for column in columns)

    @cached_property
    def _log_count(self) -> int:
        return sum(r.log for r in self.ranges)

    def check_not_set(self, physics: Mapping[str, Any]) -> None:
        """Refuse a parameter given both a value and a range."""
        both = [name for name in self.names if name in physics]
        if both:
            # the registered swing-up ids set tau themselves (dm_control's 0.01): only the env classes take its range
            hint = "; the swing-up ids set tau=0.01: randomize tau with CartPoleEnv(task='swingup', ...) or "
            hint += "CartPoleVectorEnv(n, task='swingup', ...)" if "tau" in both else ""
            raise ValueError(f"{', '.join(both)} given both as a value and in randomize; pass one of the two{hint}")

    @property
    def limits(self) -> dict[str, tuple[float, float]]:
        """``{name: (low, high)}``: what the swing-up's observation bounds are proven over
        (``tasks.observation_high``)."""
        return {r.name: (r.low, r.high) for r in self.ranges}

    def bounding(self, params: CartPoleParams) -> CartPoleParams:
        """``params`` with the randomized values that give the widest observation bounds, which hold every draw."""
        worst = {r.name: r.high for r in self.ranges if r.name in _GROW_WITH_HIGH}
        worst |= {r.name: r.low for r in self.ranges if r.name in _GROW_WITH_LOW}
        return replace(params, **worst) if worst else params


def _parameter_range(name: Any, entry: Any) -> ParameterRange:
    if name not in NUMERIC_FIELDS:
        raise ValueError(f"randomize: unknown CartPole parameter {name!r}; valid: {', '.join(NUMERIC_FIELDS)}")
    form = f"randomize[{name!r}] must be (low, high) or (low, high, 'uniform' | 'log-uniform'), got {entry!r}"
    if isinstance(entry, (str, bytes)) or not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
        raise ValueError(form)
    distribution = entry[2] if len(entry) == 3 else "log-uniform" if name in LOG_UNIFORM else "uniform"
    if distribution not in DISTRIBUTIONS or not all(
        isinstance(bound, numbers.Real) and not isinstance(bound, bool) for bound in entry[:2]
    ):
        raise ValueError(form)
    try:
        low, high = (getattr(CartPoleParams(**{name: bound}), name) for bound in entry[:2])  # the ranges' messages
    except ValueError as error:
        raise ValueError(f"randomize: {error}") from None
    if low > high:
        raise ValueError(f"randomize[{name!r}]: low ({low:g}) must not exceed high ({high:g})")
    if distribution == "log-uniform" and low <= 0:
        raise ValueError(f"randomize[{name!r}]: a log-uniform range needs low > 0, got {low:g}; use 'uniform'")
    return ParameterRange(name, low, high, distribution)


# The derived constants and how they follow from the parameters (as CartPoleParams computes them)
_DERIVED: dict[str, tuple[Any, str, str]] = {
    "total_mass": (np.add, "masspole", "masscart"),
    "polemass_length": (np.multiply, "masspole", "length"),
}


POOL_SIZE = 16384  # parameter sets a NumPy vector env draws at a time


class DrawnValues:
    """The per-sub-env parameters of a NumPy vector env that randomizes, kept where the step reads them: the drawn
    values and the derived constants that follow from them are rows of one matrix of the state dtype.

    Parameter sets are drawn ``POOL_SIZE`` at a time from the env's generator (values rounded to the state dtype,
    derived constants computed from them in float64, as ``ArrayConstants.of`` computes them) and handed out in the
    order the sub-envs reset: a reset then costs one copy into the matrix, not a dozen small NumPy calls. A full
    reset discards the sets left, so ``reset(seed=...)`` fixes every later draw.
    """

    def __init__(self, params: CartPoleParams, randomization: Randomization, num_envs: int, dtype: Any) -> None:
        self.randomization = randomization
        names = randomization.names
        self._dtype = np.dtype(dtype)
        values = np.array([np.broadcast_to(getattr(params, name), (num_envs,)) for name in names], dtype=dtype)
        in_force = replace(params, **{name: row.astype(np.float64) for name, row in zip(names, values, strict=True)})
        constants = ArrayConstants.of(in_force, dtype)
        derived = {
            name: (_DERIVED[name][0], *(_operand(part, names, params) for part in _DERIVED[name][1:]))
            for name, (_, *parts) in _DERIVED.items()
            if set(parts) & set(names)
        }
        # Rows: the drawn values (masscart too, which the step reads only through total_mass), then the derived
        # constants of drawn values and numbers (drawn with them), then those of a per-sub-env array (at each reset).
        pooled = [name for name, (_, *operands) in derived.items() if all(np.ndim(o) == 0 for o in operands)]
        per_reset = [name for name in derived if name not in pooled]
        self._varying = [*names, *pooled, *per_reset]
        self._matrix = np.array([*values, *(getattr(constants, name) for name in [*pooled, *per_reset])], dtype=dtype)
        self.constants = self._viewing_the_matrix(constants)
        self._pooled = [(len(names) + i, *derived[name]) for i, name in enumerate(pooled)]
        self._per_reset = [(len(names) + len(pooled) + i, *derived[name]) for i, name in enumerate(per_reset)]
        self._pool = np.empty((len(names) + len(pooled), 0), dtype=dtype)
        self._taken = 0

    def _viewing_the_matrix(self, constants: ArrayConstants) -> ArrayConstants:
        rows = zip(self._varying, self._matrix, strict=True)
        return replace(constants, **{name: row for name, row in rows if hasattr(constants, name)})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.constants = self._viewing_the_matrix(self.constants)  # a pickle copies views: link them again

    def in_force(self, params: CartPoleParams) -> CartPoleParams:
        """``params`` with the randomized parameters' current values, as float64 copies."""
        rows = zip(self.randomization.names, self._matrix, strict=False)
        return replace(params, **{name: row.astype(np.float64) for name, row in rows})

    def discard(self) -> None:
        """Forget the sets drawn ahead: the next draw starts from the generator's present state."""
        self._taken = self._pool.shape[1]

    def draw(self, rng: np.random.Generator, indices: np.ndarray) -> None:
        """The next parameter sets for the sub-envs ``indices`` (ints), in their order."""
        count = indices.size
        if self._taken + count > self._pool.shape[1]:
            self._pool, self._taken = self._fresh_sets(rng, max(POOL_SIZE, count)), 0
        sets = self._pool[:, self._taken : self._taken + count]
        self._taken += count
        self._matrix[: len(sets), indices] = sets
        for row, operation, *operands in self._per_reset:
            first, second = (sets[o] if type(o) is int else o if np.ndim(o) == 0 else o[indices] for o in operands)
            self._matrix[row, indices] = operation(first, second, dtype=np.float64)

    def _fresh_sets(self, rng: np.random.Generator, count: int) -> np.ndarray:
        sets = np.empty((len(self._pool), count), dtype=self._dtype)
        drawn = sets[: len(self.randomization.ranges)]
        drawn[...] = self.randomization.draw(rng, count)  # rounded to the state dtype
        for row, operation, first, second in self._pooled:
            sets[row] = operation(*(drawn[o] if type(o) is int else o for o in (first, second)), dtype=np.float64)
        return sets


def _operand(name: str, drawn: tuple[str, ...], params: CartPoleParams) -> int | float | np.ndarray:
    return drawn.index(name) if name in drawn else getattr(params, name)


def randomization_for(spec: Any, physics: Mapping[str, Any]) -> Randomization | None:
    """The validated ``randomize`` argument of an env given its ``physics`` keywords, or None."""
    randomization = Randomization.of(spec)
    if randomization:
        randomization.check_not_set(physics)
    return randomization
