"""What an episode asks of the cart-pole: the balance task and dm_control's swing-up, on the same physics.

``physics.step_state`` moves the cart-pole; a task decides the rest: the start state, the observation, the reward
and when an episode ends. Like the physics, the functions below use only arithmetic, comparisons and
``xp.cos`` / ``xp.sin`` / ``xp.exp``, so the single env (``xp=math``), the NumPy vector env and the torch env (eager
and compiled) share them.

The swing-up follows dm_control's ``cartpole`` ``swingup`` and ``swingup_sparse`` (Tassa et al. 2018): the pole
starts hanging down, the angle never fails, the episode ends when the cart leaves the track or at the time limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from continuous_cartpole.physics import NUMERIC_FIELDS, ArrayConstants, CartPoleParams, has_left_bounds

T = TypeVar("T")  # a float, an ndarray or a tensor

TASKS = ("balance", "swingup", "swingup_sparse")

# dm_control's swing-up start: every state variable 0.01 x N(0, 1) around the pole hanging down (angle pi). The
# normal draws are clipped at 10 standard deviations, which no float sampler reaches in practice (P < 1e-22), so
# that the observation bounds below hold for every start state.
SWINGUP_START_NOISE = 0.01
SWINGUP_START_CLIP = 10.0  # standard deviations
SWINGUP_START_ANGLE = math.pi
_START_LIMIT = SWINGUP_START_NOISE * SWINGUP_START_CLIP  # the largest start |x|, |x_dot|, |angle_dot|


# dm_control's reward terms: tolerance(d, margin) with its default gaussian sigmoid is 0.1 ** ((d / margin) ** 2)
_LN_TENTH = math.log(0.1)
_CART_MARGIN = 2.0  # m
_SPIN_MARGIN = 5.0  # rad/s
SPARSE_CART_RANGE = 0.25  # |x| <= this and cos(angle) >= the next one pay 1.0 in the sparse task
SPARSE_COS_MIN = 0.995

# Relative room on top of the proven observation bounds for rounding: float32 states round every sum by 6e-8.
_ROUNDING_ROOM = 1.001


@dataclass(frozen=True)
class Task:
    """One of ``TASKS``: ``"balance"`` (the default), ``"swingup"`` (smooth reward) or ``"swingup_sparse"``."""

    name: str = "balance"

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}, got {self.name!r}")

    @property
    def swingup(self) -> bool:
        return self.name != "balance"

    @property
    def sparse(self) -> bool:
        return self.name == "swingup_sparse"

    @property
    def observation_size(self) -> int:
        """4: (x, x_dot, angle, angle_dot); 5 for the swing-up: (x, x_dot, cos angle, sin angle, angle_dot)."""
        return 5 if self.swingup else 4

    @property
    def discrete_actions(self) -> int:
        """2 (push left, right) for balance; 3 (left, none, right) for the swing-up.

        The swing-up's smooth reward multiplies by dm_control's ``small_control`` = (4 + (1 - u^2)) / 5, which is
        0.8 for a full push: with pushes only, every step would pay at most 0.8 and a discrete agent could never
        match a continuous one. A zero-force action gives it the same reachable reward.
        """
        return 3 if self.swingup else 2


def spin_limit(params: CartPoleParams | ArrayConstants) -> Any:
    """The swing-up's largest angular speed, pi / tau: the pole turns by at most half a turn per step.

    Faster spins alias in the sampled (cos, sin) observation (they look like slower spins backwards), so the
    simulation no longer describes them; the episode ends there. No policy reaches it within the registered 1000
    steps at the default parameters (314 rad/s; a swing-up needs about 8); it is what keeps the observation bounds
    finite whatever the time limit.
    """
    return math.pi / params.tau


def observation_high(
    task: Task, params: CartPoleParams, ranges: Mapping[str, tuple[float, float]] | None = None
) -> tuple[float, ...]:
    """Finite bounds that hold every observation of an episode, the terminal one included.

    ``ranges`` (swing-up): ``{name: (low, high)}`` of parameters drawn anew at every reset (domain randomization);
    the bounds then hold for every parameter set inside those ranges. The balance task's callers pass the ranges'
    worst ends in ``params`` instead (``Randomization.bounding``).

    Balance: ``params.observation_high`` (see there). Swing-up, proven for both integrators: let ``L = max(
    x_threshold, 0.1)`` (0.1 bounds the start state's |x|, |x_dot| and |angle_dot|) and ``a_x``, ``a_theta`` the
    largest cart and pole accelerations over every angle, |force| <= force_mag and |angle_dot| <= ``spin_limit``.
    A state the episode goes on from has |x| <= L and |angle_dot| <= spin_limit. Two such states in a row bound the
    speed that moved the cart between them, (x_n - x_{n-1}) / tau, by 2L / tau: that is x_dot_{n-1} with Euler
    and x_dot_n with semi-implicit Euler, so |x_dot_n| <= 2L / tau + tau a_x (at the start, 0.1). The step from it,
    terminal or not, moves x by tau times a speed below 2L / tau + tau a_x and changes the speeds by tau times the
    accelerations:

        |x| <= 3L + tau^2 a_x,   |x_dot| <= 2L / tau + 2 tau a_x,   |angle_dot| <= spin_limit + tau a_theta,

    and |cos|, |sin| <= 1. The bounds get 0.1% room for rounding. At the swing-up's defaults (tau 0.01): 7.69 m,
    577 m/s, 387 rad/s.

    Over ranges (interval arithmetic): the physics holds a sub-env's parameters fixed for an episode, so each
    episode obeys the bounds above at its own parameters. Every bound is a sum, product and quotient of positive
    terms, each increasing in its numerators and decreasing in its denominators; evaluating each occurrence of a
    parameter at its worst end (numerators at the high end, denominators at the low end: spin_limit = pi / tau at
    the lowest tau, the tau factors at the highest, the total mass from the lowest masses, the pole's length at
    its lowest in the denominator and highest as a lever arm, |gravity| at the larger end) gives a number at
    least as large as the bound at any parameter set inside the ranges. The accelerations are written so that a
    parameter occurs as few times as it can: a_theta <= (|gravity| + force_mag / total_mass) / (length lever) +
    share spin_limit^2 / lever and a_x <= force_mag / total_mass + share length (spin_limit^2 + a_theta), with
    share = masspole / total_mass and lever = 4/3 - share (polemass_length = share total_mass length). The share
    is taken exactly: it grows with masspole and falls with masscart, so its largest value is at the heaviest pole
    on the lightest cart, below 1, and lever stays above 1/3.
    Every term is then finite for every range inside ``PARAMETER_RANGES`` (the widest ranges give about 1e12 m/s,
    far below float32's 3e38), so no range needs refusing. Parameters drawn in float32 may sit an ulp (6e-8
    relative) outside their range, well inside the 0.1% room.
    """
    if not task.swingup:
        return params.observation_high
    low, high = _ends(params, ranges or {})
    omega = math.pi / low["tau"]  # spin_limit at the lowest tau
    push = high["force_mag"] / (low["masspole"] + low["masscart"])  # force / total_mass
    pole_share = high["masspole"] / (high["masspole"] + low["masscart"])  # masspole / total_mass at its largest
    # the denominator of the pole's acceleration is smallest upright or hanging: length (4/3 - masspole / total);
    # polemass_length / (total_mass length) = pole_share, so the spin term holds no length
    lever = 4.0 / 3.0 - pole_share
    theta_acc = (np.maximum(abs(low["gravity"]), abs(high["gravity"])) + push) / (low["length"] * lever)
    theta_acc = theta_acc + pole_share * omega * omega / lever
    # temp + polemass_length theta_acc / total_mass, with polemass_length / total_mass = pole_share length
    x_acc = push + pole_share * high["length"] * (omega * omega + theta_acc)
    reach, tau_low, tau_high = np.maximum(high["x_threshold"], _START_LIMIT), low["tau"], high["tau"]
    x_high = 3 * reach + tau_high * tau_high * x_acc
    speed_high = 2 * reach / tau_low + 2 * tau_high * x_acc
    spin_high = omega + tau_high * theta_acc
    # per cart-pole of a batch of parameters (arrays), then the largest
    x_high, speed_high, spin_high = (float(np.max(_ROUNDING_ROOM * bound)) for bound in (x_high, speed_high, spin_high))
    return x_high, speed_high, 1.0, 1.0, spin_high


def _ends(params: CartPoleParams, ranges: Mapping[str, tuple[float, float]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The low and high end of every numeric parameter: its ``ranges`` entry, else its value (a number or array)."""
    values = {name: getattr(params, name) for name in NUMERIC_FIELDS}
    low = values | {name: bounds[0] for name, bounds in ranges.items()}
    high = values | {name: bounds[1] for name, bounds in ranges.items()}
    return low, high


def observation_rows(
    task: Task, state: tuple[T, T, T, T], xp: ModuleType, trig_out: tuple[T, T] | None = None
) -> tuple[T, ...]:
    """The observation's variables (rows of a batch) from the state ``(x, x_dot, angle, angle_dot)``.

    ``trig_out`` (arrays only, optional): two arrays that receive the swing-up's cos and sin of the angle.
    """
    if not task.swingup:
        return state
    x, x_dot, theta, theta_dot = state
    if trig_out is None:
        return x, x_dot, xp.cos(theta), xp.sin(theta), theta_dot
    return x, x_dot, xp.cos(theta, out=trig_out[0]), xp.sin(theta, out=trig_out[1]), theta_dot


def has_ended(task: Task, params: CartPoleParams | ArrayConstants, state: tuple[T, T, T, T], spin: Any = None) -> T:
    """True where the stepped state ends the episode: off the track, or (balance) the pole fell, or (swing-up) it
    spins faster than ``spin_limit`` (``spin``: that limit, precomputed by a caller that steps often). NaN is not
    caught here (see ``physics.is_nonfinite``)."""
    x, _, theta, theta_dot = state
    if not task.swingup:
        return has_left_bounds(params, x, theta)
    return (abs(x) > params.x_threshold) | (abs(theta_dot) > (spin_limit(params) if spin is None else spin))


def end_reason(task: Task, params: CartPoleParams, state: tuple[float, float, float, float]) -> str:
    """Why a terminated episode ended, in words, from its terminal state."""
    x, _, theta, theta_dot = state
    if not math.isfinite(x + theta + theta_dot + state[1]):
        return "state became NaN or infinite"
    if not task.swingup and abs(theta) > params.theta_threshold_radians:
        return f"pole fell past {math.degrees(params.theta_threshold_radians):.0f} degrees"
    if abs(x) > params.x_threshold:
        return f"cart left the track (|x| > {params.x_threshold:g})"
    if task.swingup and abs(theta_dot) > spin_limit(params):
        return f"pole spun faster than {spin_limit(params):.0f} rad/s"
    return "terminated"


def swingup_reward(task: Task, rows: tuple[T, ...], force_fraction: T | float, xp: ModuleType) -> T:
    """dm_control's swing-up reward of a step, in [0, 1], from the observation rows after it.

    Smooth: upright x centered x small_control x small_velocity, with upright = (cos + 1) / 2, centered =
    (1 + tol(x, 2)) / 2, small_control = (4 + 1 - u^2) / 5 for the force fraction u in [-1, 1] and small_velocity =
    (1 + tol(angle_dot, 5)) / 2, where tol(d, margin) = 0.1 ** ((d / margin) ** 2). Sparse: 1.0 where |x| <= 0.25
    and cos angle >= 0.995 (dm_control's inclusive bounds), else 0.0.
    """
    x, _, cos, _, theta_dot = rows
    if task.sparse:
        return ((abs(x) <= SPARSE_CART_RANGE) & (cos >= SPARSE_COS_MIN)) * 1.0
    # The product of the four terms with their constant factors 1/2 x 1/2 x 1/5 x 1/2 taken out, in place where the
    # arrays allow (augmented assignments make new values from Python floats): a third fewer passes over a batch.
    centered = x * x
    centered *= _LN_TENTH / (_CART_MARGIN * _CART_MARGIN)
    centered = xp.exp(centered)
    centered += 1.0  # 2 x centered
    small_velocity = theta_dot * theta_dot
    small_velocity *= _LN_TENTH / (_SPIN_MARGIN * _SPIN_MARGIN)
    small_velocity = xp.exp(small_velocity)
    small_velocity += 1.0  # 2 x small_velocity
    small_control = force_fraction * force_fraction
    small_control -= 5.0  # -5 x small_control
    reward = cos + 1.0  # 2 x upright
    reward *= centered
    reward *= small_velocity
    reward *= small_control
    reward *= -1.0 / 40.0
    return reward
