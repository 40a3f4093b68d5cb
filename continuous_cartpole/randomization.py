"""Domain randomization: physical parameters drawn anew for every episode, from the env's own seeded generator.

``randomize={"length": (0.25, 1.0), "masspole": (0.05, 0.5, "uniform")}`` on ``gym.make``, ``gym.make_vec`` or the
torch env. Each entry is ``(low, high)`` or ``(low, high, distribution)``, with ``distribution`` "uniform" or
"log-uniform". Without one, the scale parameters in ``LOG_UNIFORM`` (masses, pole length, force magnitude, time
step) are drawn log-uniformly, so that a range such as 0.25-1.0 m gives 0.25-0.5 and 0.5-1.0 the same share of
episodes (robustness is judged over factors of the nominal value); every other parameter is drawn uniformly.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from continuous_cartpole.physics import NUMERIC_FIELDS, CartPoleParams

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

    def spread(self, uniform: T, xp: ModuleType) -> T:
        """Values of the parameter from uniform numbers in [0, 1) (float64 arrays or tensors), clipped to the range.

        ``xp`` is ``numpy`` or ``torch``; the clip only catches the last bit of rounding of ``exp``.
        """
        if self.distribution == "uniform":
            values = self.low + (self.high - self.low) * uniform
        else:
            log_low, log_high = math.log(self.low), math.log(self.high)
            values = xp.exp(log_low + (log_high - log_low) * uniform)
        return xp.clip(values, self.low, self.high)


@dataclass(frozen=True)
class Randomization:
    """The validated ``randomize`` argument: ranges in the order given; ``Randomization.of(spec)`` builds it."""

    ranges: tuple[ParameterRange, ...]

    @classmethod
    def of(cls, spec: Any) -> Randomization | None:
        """The randomization a ``randomize`` argument asks for (None or ``{}``: none); a one-line error if invalid."""
        if spec is None or isinstance(spec, Randomization):
            return spec or None
        if not isinstance(spec, Mapping):
            raise ValueError(f"randomize must be a dict such as {{'length': (0.25, 1.0)}} or None, got {spec!r}")
        ranges = tuple(_parameter_range(name, entry) for name, entry in spec.items())
        return cls(ranges) if ranges else None

    def __bool__(self) -> bool:
        return bool(self.ranges)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.ranges)

    def as_dict(self) -> dict[str, tuple[float, float, str]]:
        """The ranges as a ``randomize`` argument, with the distributions spelled out (for configs and logs)."""
        return {r.name: (r.low, r.high, r.distribution) for r in self.ranges}

    def draw(self, rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
        """``count`` values of each parameter, float64: a ``(count, len(ranges))`` block of ``rng.random``, so one
        draw of one cart-pole takes the numbers a single env's draw takes."""
        uniform = rng.random((count, len(self.ranges)))
        return {r.name: r.spread(uniform[:, j], np) for j, r in enumerate(self.ranges)}

    def check_not_set(self, physics: Mapping[str, Any]) -> None:
        """Refuse a parameter given both a value and a range."""
        both = [name for name in self.names if name in physics]
        if both:
            raise ValueError(f"{', '.join(both)} given both as a value and in randomize; pass one of the two")

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
