"""A hand-made swing-up controller, the reference that anchors the swing-up ids' ``reward_threshold``.

    python benchmarks/swingup_controller.py [--episodes 100] [--seed 1000]
    python benchmarks/swingup_controller.py --gif docs/swingup.gif

Energy pumping with cart centring (Astrom and Furuta 2000) until the pole is nearly upright, then a linear-quadratic
regulator on the discrete-time linearisation of the env's own step (``physics.step_state``). It reads only the
observation (x, x_dot, cos, sin, angle_dot). The discrete ids get the continuous force as their three levels (-1, 0,
+1) by sigma-delta modulation. Prints the mean, standard deviation and minimum return over ``--episodes`` held-out
episodes (one seeded reset of the vector env at ``--seed``, never used for tuning) of every swing-up id.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

import continuous_cartpole
from continuous_cartpole.physics import CartPoleParams, step_state

TUNING_SEEDS = range(0, 20)  # the gains below were chosen on these only


@dataclass(frozen=True)
class Gains:
    energy: float = 1.0  # force fraction per missing m g l of pole energy, times the pumping direction
    centre: float = 0.5  # force fraction per metre of cart offset while pumping
    centre_speed: float = 0.35  # force fraction per m/s of cart speed while pumping
    catch_cos: float = 0.85  # hand over to the LQR above this cos(angle) ...
    catch_spin: float = 6.0  # ... and below this angular speed (rad/s)


def lqr_gain(params: CartPoleParams, q: tuple[float, ...], r: float, iterations: int = 20000) -> np.ndarray:
    """The LQR gain K (force fraction = -K @ (x, x_dot, angle, angle_dot)) of the env's step linearised upright.

    The Jacobians are central differences of ``step_state`` itself; the Riccati equation is iterated to its fixed
    point (no SciPy needed).
    """
    eps = 1e-6

    def step(state: np.ndarray, fraction: float) -> np.ndarray:
        return np.array(step_state(params, tuple(state), fraction * params.force_mag, math))

    zero = np.zeros(4)
    a = np.column_stack([(step(zero + eps * e, 0.0) - step(zero - eps * e, 0.0)) / (2 * eps) for e in np.eye(4)])
    b = ((step(zero, eps) - step(zero, -eps)) / (2 * eps))[:, np.newaxis]
    qm, rm = np.diag(q), np.array([[r]])
    p = qm.copy()
    for _ in range(iterations):
        k = np.linalg.solve(rm + b.T @ p @ b, b.T @ p @ a)
        p = qm + a.T @ p @ (a - b @ k)
    return np.linalg.solve(rm + b.T @ p @ b, b.T @ p @ a)[0]


class SwingUpController:
    """Force fractions in [-1, 1] for a batch of swing-up observations (n, 5)."""

    def __init__(self, params: CartPoleParams, gains: Gains = Gains()) -> None:
        self.params = params
        self.gains = gains
        self.k = lqr_gain(params, q=(1.0, 1.0, 10.0, 1.0), r=1.0)
        # pole energy about the pivot, zero upright at rest: 1/2 J w^2 + m g l (cos - 1), J = 4/3 m l^2
        self.inertia = 4.0 / 3.0 * params.masspole * params.length**2
        self.weight = params.masspole * params.gravity * params.length

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x, x_dot, cos, sin, spin = obs.astype(np.float64).T
        g = self.gains
        energy = 0.5 * self.inertia * spin**2 + self.weight * (cos - 1.0)
        # A push along the cart accelerates the pole by -cos / (4/3 l) per unit of cart acceleration: pushing with
        # the sign of -(spin * cos) adds energy, the opposite removes it.
        pump = g.energy * (0.0 - energy) / self.weight * np.sign(-spin * cos)
        pump = pump - g.centre * x - g.centre_speed * x_dot
        angle = np.arctan2(sin, cos)
        balance = -(self.k @ np.stack([x, x_dot, angle, spin]))
        near = (cos > g.catch_cos) & (np.abs(spin) < g.catch_spin)
        return np.clip(np.where(near, balance, pump), -1.0, 1.0)


class SigmaDelta:
    """Discrete swing-up actions 0 (-1), 1 (0) or 2 (+1) whose running mean follows the continuous force fractions.

    Sigma-delta modulation: each sub-env carries the force it still owes, so the LQR's small forces are applied as
    an occasional push rather than rounded away (rounding alone leaves the pole wobbling out of the sparse band).
    """

    def __init__(self, num_envs: int) -> None:
        self.owed = np.zeros(num_envs)

    def __call__(self, fraction: np.ndarray) -> np.ndarray:
        self.owed += np.clip(fraction, -1.0, 1.0)
        level = np.clip(np.rint(self.owed), -1.0, 1.0)
        self.owed -= level
        return level.astype(np.int64) + 1


def episode_returns(env_id: str, episodes: int, seed: int, gains: Gains = Gains()) -> np.ndarray:
    """Returns of ``episodes`` episodes, one per sub-env of the NumPy vector env, seeded from ``seed``."""
    envs = gym.make_vec(env_id, num_envs=episodes, autoreset_mode=AutoresetMode.DISABLED, dtype=np.float64)
    controller = SwingUpController(envs.unwrapped.params, gains)
    continuous = continuous_cartpole.ENV_IDS[env_id]
    modulator = SigmaDelta(episodes)
    obs, _ = envs.reset(seed=seed)
    returns = np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        fraction = controller(obs)
        actions = fraction[:, np.newaxis] if continuous else modulator(fraction)
        obs, reward, terminated, truncated, _ = envs.step(actions)
        returns += np.where(running, reward, 0.0)
        running &= ~(terminated | truncated)
    envs.close()
    return returns


class ControllerPolicy:
    """The controller behind SB3's ``predict`` interface, for ``baselines.rollouts``."""

    def __init__(self, params: CartPoleParams) -> None:
        self.controller = SwingUpController(params)

    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        batch = np.atleast_2d(observation)
        fraction = self.controller(batch)[:, np.newaxis].astype(np.float32)
        return (fraction if np.ndim(observation) == 2 else fraction[0]), None


def write_gif(path: str, seed: int, every: int = 4, seconds: float = 6.0) -> int:
    """The first ``seconds`` of an episode of ContinuousCartPoleSwingUp-v0 with the overlay, every ``every``-th
    frame, in real time (the swing-up takes about 2.4 s; the rest of the episode looks like its end)."""
    from baselines.rollouts import rollout_frames  # the baselines extra: pygame, imageio
    from baselines.video import write_video

    env = gym.make("ContinuousCartPoleSwingUp-v0", render_mode="rgb_array")
    try:
        frames = rollout_frames(ControllerPolicy(env.unwrapped.params), env, episodes=1, seed=seed)
        last = round(seconds / env.unwrapped.params.tau)
        shown = itertools.takewhile(lambda frame: frame.step <= last, frames)
        kept = (frame.image for frame in shown if frame.step % every == 0)
        return write_video(path, kept, fps=1 / (env.unwrapped.params.tau * every))
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="first held-out seed (tuning used 0-19)")
    parser.add_argument("--gif", metavar="PATH", help="only write a GIF of one episode (seed --seed) to PATH")
    args = parser.parse_args()
    if args.gif:
        print(f"wrote {write_gif(args.gif, args.seed)} frames to {args.gif}")
        return
    print("| env id | mean | std | min | reward_threshold | threshold / mean |")
    print("|---|---|---|---|---|---|")
    for env_id in continuous_cartpole.SWINGUP_IDS:
        returns = episode_returns(env_id, args.episodes, args.seed)
        threshold = gym.spec(env_id).reward_threshold
        print(
            f"| {env_id} | {returns.mean():.1f} | {statistics.pstdev(returns):.1f} | {returns.min():.1f} | "
            f"{threshold:g} | {threshold / returns.mean():.3f} |"
        )


if __name__ == "__main__":
    main()
