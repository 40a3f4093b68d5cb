"""The cart-pole dynamics, written once for every backend and batch shape.

The functions below only use arithmetic operators, comparisons and ``xp.cos`` / ``xp.sin``, so the same code
runs on Python floats (``xp=math``), NumPy arrays (``xp=numpy``) and torch tensors (``xp=torch``) of any shape.
The order of floating-point operations follows Gymnasium's ``CartPoleEnv.step`` exactly, so float64 results are
bit-identical to it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields, replace
from functools import cached_property
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")  # a float, an ndarray or a tensor: whatever the caller's array library uses

INTEGRATORS = ("euler", "semi-implicit euler")

# Inclusive ranges of the numeric parameters. Within them the observation bounds are finite and one step from any
# state inside them stays far below float32's largest value (about 3e38): the worst case, a light short cart-pole
# spinning at the angular-speed bound with tau = 1e-4, gives accelerations near 1e28.
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "gravity": (-1e3, 1e3),
    "masscart": (1e-3, 1e3),
    "masspole": (1e-3, 1e3),
    "length": (1e-2, 1e2),
    "force_mag": (1e-3, 1e4),
    "tau": (1e-4, 1.0),
    "theta_threshold_radians": (1e-9, math.pi),
    "x_threshold": (1e-9, 1e3),
    "failure_reward": (-1e6, 1e6),
}


NUMERIC_FIELDS = tuple(PARAMETER_RANGES)  # every field but kinematics_integrator


@dataclass(frozen=True, eq=False)  # equality and hash below: an array field has no truth value
class CartPoleParams:
    """Physical constants and episode rules of the cart-pole; validated on construction.

    Defaults are Gymnasium's CartPole except the failure angle (20 degrees, not 12) and the reward paid on the
    failing step (0.0, not 1.0). ``CartPoleParams.gymnasium()`` gives Gymnasium's values.

    Every number must lie in its ``PARAMETER_RANGES`` interval: gravity [-1e3, 1e3] m/s^2, masscart and masspole
    [1e-3, 1e3] kg, length [1e-2, 1e2] m, force_mag [1e-3, 1e4] N, tau [1e-4, 1] s, theta_threshold_radians
    [1e-9, pi], x_threshold [1e-9, 1e3] m, failure_reward [-1e6, 1e6]. Then the observation bounds are finite and
    one step from any state inside them cannot overflow, even in float32.

    A numeric parameter may also be an array (or a list) of values, one per cart-pole of a batch: the vector envs
    take arrays of shape (num_envs,), and sub-env i steps with element i of each. Every element is validated; the
    arrays are stored as read-only float64 copies and must broadcast together (``batch_shape``).
    ``params.at(i)`` gives sub-env i's parameters as numbers.
    """

    gravity: float | np.ndarray = 9.8
    masscart: float | np.ndarray = 1.0
    masspole: float | np.ndarray = 0.1
    length: float | np.ndarray = 0.5  # half the pole's length, as in Barto, Sutton and Anderson
    force_mag: float | np.ndarray = 10.0
    tau: float | np.ndarray = 0.02  # seconds per step
    theta_threshold_radians: float | np.ndarray = 20 * 2 * math.pi / 360
    x_threshold: float | np.ndarray = 2.4
    kinematics_integrator: str = "euler"
    failure_reward: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        for name in NUMERIC_FIELDS:
            object.__setattr__(self, name, _checked_value(name, getattr(self, name)))
        if not isinstance(self.kinematics_integrator, str) or self.kinematics_integrator not in INTEGRATORS:
            raise ValueError(
                f"CartPole parameter kinematics_integrator must be one of {INTEGRATORS}, "
                f"got {self.kinematics_integrator!r}"
            )
        # Fill the derived caches now, so later reads are plain attributes: torch.compile cannot trace the lock
        # inside cached_property's first computation.
        _ = self.batch_shape, self.total_mass, self.polemass_length

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, f.name)) for f in fields(self)))

    @cached_property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape of the parameter arrays, () when every parameter is a number."""
        shapes = {name: np.shape(getattr(self, name)) for name in NUMERIC_FIELDS}
        try:
            return np.broadcast_shapes(*shapes.values())
        except ValueError:
            arrays = ", ".join(f"{name} {shape}" for name, shape in shapes.items() if shape)
            raise ValueError(f"CartPole parameter arrays must have the same shape, got {arrays}") from None

    @property
    def is_batched(self) -> bool:
        """True when some parameter is an array of per-cart-pole values."""
        return self.batch_shape != ()

    def at(self, index: int) -> CartPoleParams:
        """The parameters of cart-pole ``index`` of a batch, as numbers (``self`` when nothing is an array)."""
        if not self.is_batched:
            return self
        values = {name: np.broadcast_to(getattr(self, name), self.batch_shape)[index] for name in NUMERIC_FIELDS}
        return replace(self, **{name: float(value) for name, value in values.items()})

    @classmethod
    def from_keywords(cls, physics: dict[str, Any]) -> CartPoleParams:
        """The parameters from an env's keyword arguments; an unknown keyword is a ``TypeError`` naming the valid
        ones."""
        valid = [field.name for field in fields(cls)]
        for name in physics:
            if name not in valid:
                # Python's own wording for an unknown keyword: clients such as TorchRL retry without a keyword only
                # on this TypeError (TorchRL's GymEnv passes frameskip=)
                raise TypeError(
                    f"{cls.__name__}() got an unexpected keyword argument {name!r}; valid CartPole parameters: "
                    f"{', '.join(valid)}"
                )
        return cls(**physics)

    @classmethod
    def gymnasium(cls, **overrides: Any) -> CartPoleParams:
        """Gymnasium's CartPole-v1 values: 12 degree failure angle and reward 1.0 on the failing step."""
        return cls(**{"theta_threshold_radians": 12 * 2 * math.pi / 360, "failure_reward": 1.0, **overrides})

    @cached_property  # read several times a step: computed once (a frozen dataclass still takes the cache)
    def total_mass(self) -> float | np.ndarray:
        return _read_only(self.masspole + self.masscart)

    @cached_property
    def polemass_length(self) -> float | np.ndarray:
        return _read_only(self.masspole * self.length)

    @property
    def observation_high(self) -> tuple[float, float, float, float]:
        """Finite bounds that hold every observation of an episode, the terminal one included.

        Positions get twice their failure threshold (as Gymnasium does): the terminal step starts inside the
        threshold and moves the coordinate by less than a threshold as long as tau * speed stays below it (at the
        defaults a step turns the pole by at most about 0.07 rad, against 0.35). A live state can only move its
        coordinate by 2 * threshold in one step, so its speed is below 2 * threshold / tau; twice that bounds the
        speeds with room for the accelerations of the last steps. Extreme settings (a coarse tau with a tiny
        threshold) can break the first condition; ``tests/test_env.py`` checks the bounds over physical variations
        of every parameter. For a batch, each bound is the largest over its cart-poles.
        """
        bounds = (
            2 * self.x_threshold,
            4 * self.x_threshold / self.tau,
            2 * self.theta_threshold_radians,
            4 * self.theta_threshold_radians / self.tau,
        )
        return tuple(float(np.max(bound)) for bound in bounds)  # type: ignore[return-value]


def _checked_value(name: str, value: Any) -> float | np.ndarray:
    """A parameter as a float, or as a read-only float64 array when given several values; range-checked."""
    low, high = PARAMETER_RANGES[name]
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind not in "fiu" or array.size == 0:
            raise ValueError(
                f"CartPole parameter {name} must be a real number or a non-empty array of them, got {value!r}"
            )
        if array.ndim == 0:
            value = array.item()
        else:
            array = array.astype(np.float64)  # a copy: the caller's array may change later
            outside = ~((low <= array) & (array <= high))  # NaN is outside too
            if outside.any():
                index = np.unravel_index(int(np.argmax(outside)), array.shape)
                where = index[0] if array.ndim == 1 else index
                got = array[index].item()
                raise ValueError(
                    f"CartPole parameter {name} must lie in [{low:g}, {high:g}], got {got!r} at index {where}"
                )
            return _read_only(array)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"CartPole parameter {name} must be a real number, got {value!r}")
    if not low <= value <= high:  # NaN fails this too
        raise ValueError(f"CartPole parameter {name} must lie in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _read_only(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
    return bool(a == b)


def _hashable(value: Any) -> Any:
    return (value.shape, value.tobytes()) if isinstance(value, np.ndarray) else value


@dataclass(frozen=True)
class ArrayConstants:
    """The numbers ``step_state`` and ``has_left_bounds`` read, as NumPy arrays of the state's dtype.

    NumPy combines an array with a 0-d array of its own dtype in about half the time it takes with a Python float,
    which it converts again on every operation. The conversion rounds the float to that dtype either way, so the
    results are the same bit for bit. ``ArrayConstants.of(params, np.float32)`` makes them: 0-d arrays for numbers,
    arrays of the batch's shape for per-cart-pole values (derived values computed in float64 first, as for numbers).
    """

    gravity: np.ndarray
    masspole: np.ndarray
    length: np.ndarray
    tau: np.ndarray
    total_mass: np.ndarray
    polemass_length: np.ndarray
    x_threshold: np.ndarray
    theta_threshold_radians: np.ndarray
    force_mag: np.ndarray
    failure_reward: np.ndarray
    kinematics_integrator: str

    @classmethod
    def of(cls, params: CartPoleParams, dtype: Any) -> ArrayConstants:
        numbers = {
            field.name: np.array(getattr(params, field.name), dtype=dtype)  # a copy the owner may update in place
            for field in fields(cls)
            if field.name != "kinematics_integrator"
        }
        return cls(**numbers, kinematics_integrator=params.kinematics_integrator)

    def block(self, index: slice) -> ArrayConstants:
        """The constants of the cart-poles ``index`` of a 1-d batch: views of the per-cart-pole arrays."""
        return replace(self, **{name: value[index] for name, value in vars(self).items() if np.ndim(value) == 1})


def step_state(
    params: CartPoleParams | ArrayConstants,
    state: tuple[T, T, T, T],
    force: T,
    xp: ModuleType,
    out: tuple[T, T, T, T] | None = None,
    trig: tuple[T, T] | None = None,
) -> tuple[T, T, T, T]:
    """One integration step of ``(x, x_dot, theta, theta_dot)`` under a horizontal ``force`` on the cart.

    ``xp`` is the module providing ``cos`` and ``sin`` for the arrays given: ``math``, ``numpy`` or ``torch``.
    ``out`` (arrays or tensors only) receives the new state through ``xp.add(..., out=)``; it may be ``state``
    itself, updated in place without copies: every old value is read before the variable it belongs to is written.
    ``trig``: ``(xp.cos(theta), xp.sin(theta))`` when the caller has them already (the swing-up observes them).
    See Florian (2007), "Correct equations for the dynamics of the cart-pole system".
    """
    x, x_dot, theta, theta_dot = state
    polemass_length, total_mass = params.polemass_length, params.total_mass  # read once: used 5 times
    costheta, sintheta = (xp.cos(theta), xp.sin(theta)) if trig is None else trig
    temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass
    thetaacc = (params.gravity * sintheta - costheta * temp) / (
        params.length * (4.0 / 3.0 - params.masspole * (costheta * costheta) / total_mass)
    )
    xacc = temp - polemass_length * thetaacc * costheta / total_mass

    tau = params.tau
    if out is None:  # new values: Python floats, or fresh arrays and tensors
        if params.kinematics_integrator == "euler":
            return x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot, theta_dot + tau * thetaacc
        x_dot = x_dot + tau * xacc
        theta_dot = theta_dot + tau * thetaacc
        return x + tau * x_dot, x_dot, theta + tau * theta_dot, theta_dot
    # the same sums, written into out: each old value is read before its own variable is overwritten
    new_x, new_x_dot, new_theta, new_theta_dot = out
    if params.kinematics_integrator == "euler":
        xp.add(x, tau * x_dot, out=new_x)
        xp.add(theta, tau * theta_dot, out=new_theta)
    xp.add(x_dot, tau * xacc, out=new_x_dot)
    xp.add(theta_dot, tau * thetaacc, out=new_theta_dot)
    if params.kinematics_integrator != "euler":
        xp.add(x, tau * new_x_dot, out=new_x)
        xp.add(theta, tau * new_theta_dot, out=new_theta)
    return out


def has_failed(params: CartPoleParams, x: T, theta: T, x_dot: T | float = 0.0, theta_dot: T | float = 0.0) -> T:
    """True where the cart left the track, the pole fell past the threshold or the state is not finite.

    Returns a bool or a bool array. Pass the speeds too so that a NaN or infinite speed ends the episode at once.
    """
    return has_left_bounds(params, x, theta) | is_nonfinite(x, theta, x_dot, theta_dot)


def has_left_bounds(params: CartPoleParams | ArrayConstants, x: T, theta: T) -> T:
    """True where the cart left the track or the pole fell past the threshold; NaN is not caught here."""
    return (abs(x) > params.x_threshold) | (abs(theta) > params.theta_threshold_radians)


def is_within_bounds(params: CartPoleParams, x: T, theta: T) -> T:
    """True where the cart is on the track and the pole up: the negation of ``has_failed`` for a stepped state.

    A NaN position or angle gives False, as every comparison with NaN does. A NaN or infinite speed cannot hide
    inside the bounds after a step: an old one moves its coordinate to NaN or infinity (Euler integration; the
    semi-implicit one moves it by the new speed), and a new one needs an old speed so large (theta_dot squared
    overflowing, far above threshold / tau) that the step leaves the bounds anyway.
    """
    return (abs(x) <= params.x_threshold) & (abs(theta) <= params.theta_threshold_radians)


def is_nonfinite(x: T, theta: T, x_dot: T | float = 0.0, theta_dot: T | float = 0.0) -> T:
    """True where any variable is NaN or infinite: then the sum is too, and times 0.0 it is NaN, unequal to 0.

    Written with arithmetic and ``!=`` only, so that it works on Python floats, arrays and tensors alike. A sum
    of finite values can only overflow far outside every failure threshold, where the state has failed anyway.
    """
    return (x + theta + x_dot + theta_dot) * 0.0 != 0.0
