"""Speed of our envs against Gymnasium's CartPole, measured in one run on the same machine.

    python benchmarks/bench_env.py [--reps 7] [--quick]

Prints medians over repetitions and the ratios ours / Gymnasium: the time of one ``gym.make`` env step (lower is
better) and the vector envs' env-steps per second at N = 4096 and 65536 (higher is better).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv as GymnasiumCartPoleVectorEnv

import continuous_cartpole
from continuous_cartpole import CartPoleVectorEnv


def median_seconds(run: Callable[[], None], reps: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def single_step_us(env_id: str, steps: int, reps: int) -> float:
    """Mean time of one step through gym.make's wrappers; actions alternate so episodes last, resets included."""
    env = gym.make(env_id)
    continuous = isinstance(env.action_space, gym.spaces.Box)
    actions = [np.array([1.0], np.float32), np.array([-1.0], np.float32)] if continuous else [1, 0]
    env.reset(seed=0)

    def run() -> None:
        for i in range(steps):
            _, _, terminated, truncated, _ = env.step(actions[i & 1])
            if terminated or truncated:
                env.reset()

    return median_seconds(run, reps) / steps * 1e6


def vector_steps_per_second(envs: gym.vector.VectorEnv, steps: int, reps: int) -> float:
    rng = np.random.default_rng(0)
    if isinstance(envs.single_action_space, gym.spaces.Box):
        actions = rng.uniform(-1, 1, size=(8, envs.num_envs, 1)).astype(np.float32)
    else:
        actions = rng.integers(0, 2, size=(8, envs.num_envs))
    envs.reset(seed=0)

    def run() -> None:
        for i in range(steps):
            envs.step(actions[i & 7])

    return envs.num_envs * steps / median_seconds(run, reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=7, help="repetitions; medians are reported")
    parser.add_argument("--quick", action="store_true", help="fewer steps per repetition")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}, gymnasium {gym.__version__}; medians of {args.reps} repetitions\n"
    )

    steps = int(20_000 * scale)
    reference = single_step_us("CartPole-v1", steps, args.reps)
    print("| one gym.make step | us/step | ours / CartPole-v1 (lower is better) |")
    print("|---|---|---|")
    print(f"| CartPole-v1 (Gymnasium) | {reference:.2f} | 1.00 |")
    for env_id in continuous_cartpole.ENV_IDS:
        ours = single_step_us(env_id, steps, args.reps)
        print(f"| {env_id} | {ours:.2f} | {ours / reference:.2f} |")

    print("\n| vector env | N | M env-steps/s | ours / Gymnasium CartPoleVectorEnv (higher is better) |")
    print("|---|---|---|---|")
    for num_envs in (4096, 65536):
        steps = max(10, int(scale * 4e7 / num_envs / 20))
        reference = vector_steps_per_second(GymnasiumCartPoleVectorEnv(num_envs=num_envs), steps, args.reps)
        print(f"| Gymnasium CartPoleVectorEnv | {num_envs} | {reference / 1e6:.1f} | 1.00 |")
        for env_id, continuous in continuous_cartpole.ENV_IDS.items():
            for dtype in (np.float32, np.float64):  # float32 is the default of gym.make_vec
                envs = CartPoleVectorEnv(num_envs=num_envs, continuous=continuous, dtype=dtype)
                ours = vector_steps_per_second(envs, steps, args.reps)
                label = f"{env_id} ({np.dtype(dtype).name} state{', default' if dtype is np.float32 else ''})"
                print(f"| {label} | {num_envs} | {ours / 1e6:.1f} | {ours / reference:.2f} |")


if __name__ == "__main__":
    main()
