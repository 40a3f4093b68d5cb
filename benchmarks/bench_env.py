"""Speed of our envs against Gymnasium's CartPole, measured in one run on the same machine.

    python benchmarks/bench_env.py [--reps 7] [--quick] [--cpu-time] [--swingup-only]

Prints medians over repetitions and the ratios ours / Gymnasium: the time of one ``gym.make`` env step (lower is
better) and the vector envs' env-steps per second at N = 4096 and 65536 (higher is better); then the swing-up vector
envs' time per env step against the balance env with the same actions, in the same run (the target: at most 1.3),
and the default env with per-sub-env parameter arrays and with domain randomization against the default's step
(the cost of physics as data; lower is better). Every repetition times all of them one after the other, and a ratio
is the median of the per-repetition ratios. ``--swingup-only`` times just the swing-up envs and their balance
references (a few seconds).
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

from continuous_cartpole import BALANCE_IDS, SWINGUP_IDS, CartPoleVectorEnv

RANDOMIZE = {"length": (0.25, 1.0), "masspole": (0.05, 0.5), "masscart": (0.5, 2.0), "force_mag": (5.0, 15.0)}
PHYSICS_AS_DATA = ("per-sub-env length, masses, force", "randomized length, masses, force")


def per_sub_env_params(num_envs: int) -> dict[str, np.ndarray]:
    """The randomized parameters as fixed arrays: every sub-env its own length, masses and force."""
    rng = np.random.default_rng(0)
    return {name: rng.uniform(low, high, num_envs) for name, (low, high) in RANDOMIZE.items()}


def interleaved_seconds(
    runs: dict[str, Callable[[], None]], reps: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, list[float]]:
    """Seconds of every repetition of each run, the runs timed in turn within a repetition.

    On a shared machine the load drifts during a benchmark; timing Gymnasium and ours side by side in every
    repetition exposes both to the same load, so the per-repetition ratios stay comparable.
    """
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(reps):
        for label, run in runs.items():
            start = clock()
            run()
            times[label].append(clock() - start)
    return times


def median_ratio(ours: list[float], reference: list[float]) -> float:
    """The median over repetitions of ours / reference, both times of the same repetition."""
    return statistics.median(a / b for a, b in zip(ours, reference, strict=True))


def single_steps(env_id: str, steps: int) -> Callable[[], None]:
    """``steps`` steps through gym.make's wrappers; actions alternate so episodes last, resets included."""
    env = gym.make(env_id)
    continuous = isinstance(env.action_space, gym.spaces.Box)
    actions = [np.array([1.0], np.float32), np.array([-1.0], np.float32)] if continuous else [1, 0]
    env.reset(seed=0)

    def run() -> None:
        for i in range(steps):
            _, _, terminated, truncated, _ = env.step(actions[i & 1])
            if terminated or truncated:
                env.reset()

    return run


def vector_steps(envs: gym.vector.VectorEnv, steps: int) -> Callable[[], None]:
    """``steps`` batched steps with pre-drawn random actions (autoresets included)."""
    rng = np.random.default_rng(0)
    if isinstance(envs.single_action_space, gym.spaces.Box):
        actions = rng.uniform(-1, 1, size=(8, envs.num_envs, 1)).astype(np.float32)
    else:
        actions = rng.integers(0, 2, size=(8, envs.num_envs))
    envs.reset(seed=0)

    def run() -> None:
        for i in range(steps):
            envs.step(actions[i & 7])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=7, help="repetitions; medians are reported")
    parser.add_argument("--quick", action="store_true", help="fewer steps per repetition")
    parser.add_argument(
        "--cpu-time", action="store_true", help="time this process's CPU time, which a loaded machine disturbs less"
    )
    parser.add_argument(
        "--swingup-only",
        action="store_true",
        help="time only the swing-up vector envs and the balance envs they are compared with",
    )
    args = parser.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    scale = 0.2 if args.quick else 1.0
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}, gymnasium {gym.__version__}; medians of {args.reps} interleaved repetitions, "
        f"{'CPU' if args.cpu_time else 'wall-clock'} time\n"
    )

    if not args.swingup_only:
        single_step_table(int(20_000 * scale), args.reps, clock)
    vector_tables(scale, args.reps, clock, args.swingup_only)


def single_step_table(steps: int, reps: int, clock: Callable[[], float]) -> None:
    """Print the time of one gym.make env step, ours against CartPole-v1."""
    reference = "CartPole-v1"
    times = interleaved_seconds(
        {env_id: single_steps(env_id, steps) for env_id in (reference, *BALANCE_IDS, *SWINGUP_IDS)}, reps, clock
    )
    print("| one gym.make step | us/step | ours / CartPole-v1 (lower is better) |")
    print("|---|---|---|")
    for env_id, seconds in times.items():
        us = statistics.median(seconds) / steps * 1e6
        print(
            f"| {env_id}{' (Gymnasium)' if env_id == reference else ''} | {us:.2f} | "
            f"{median_ratio(seconds, times[reference]):.2f} |"
        )


def vector_tables(scale: float, reps: int, clock: Callable[[], float], swingup_only: bool) -> None:
    """Print the vector envs' rates against Gymnasium's, the swing-up's cost against the balance's and the cost of
    physics as data; with ``swingup_only`` only the swing-up's (its balance references are the float32 defaults)."""
    vector_table = ["| vector env | N | M env-steps/s | ours / Gymnasium CartPoleVectorEnv (higher is better) |"]
    vector_table.append("|---|---|---|---|")
    swingup_table = ["| swing-up vector env | N | M env-steps/s | time per env step / balance's (target <= 1.3) |"]
    swingup_table.append("|---|---|---|---|")
    data_table = ["| physics as data (ContinuousCartPole-v0, float32) | N | step time / default's (lower is better) |"]
    data_table.append("|---|---|---|")
    for num_envs in (4096, 65536):
        steps = max(10, int(scale * 4e7 / num_envs / 20))
        runs = {}
        if not swingup_only:
            runs["Gymnasium CartPoleVectorEnv"] = vector_steps(GymnasiumCartPoleVectorEnv(num_envs=num_envs), steps)
        for env_id, continuous in BALANCE_IDS.items():
            for dtype in (np.float32,) if swingup_only else (np.float32, np.float64):  # float32: make_vec's default
                label = f"{env_id} ({np.dtype(dtype).name} state{', default' if dtype is np.float32 else ''})"
                runs[label] = vector_steps(
                    CartPoleVectorEnv(num_envs=num_envs, continuous=continuous, dtype=dtype), steps
                )
        for env_id in SWINGUP_IDS:  # the registered settings (tau 0.01), float32 state: gym.make_vec's default
            runs[env_id] = vector_steps(gym.make_vec(env_id, num_envs=num_envs), steps)
        if not swingup_only:
            arrays, randomized = PHYSICS_AS_DATA
            runs[arrays] = vector_steps(CartPoleVectorEnv(num_envs=num_envs, **per_sub_env_params(num_envs)), steps)
            runs[randomized] = vector_steps(CartPoleVectorEnv(num_envs=num_envs, randomize=RANDOMIZE), steps)
        times = interleaved_seconds(runs, reps, clock)
        for label, seconds in times.items():
            rate = num_envs * steps / statistics.median(seconds)
            if label in SWINGUP_IDS:
                balance = next(b for b, continuous in BALANCE_IDS.items() if continuous == SWINGUP_IDS[label])
                balance_times = times[f"{balance} (float32 state, default)"]
                swingup_table.append(
                    f"| {label} | {num_envs} | {rate / 1e6:.1f} | {median_ratio(seconds, balance_times):.2f} |"
                )
                continue
            if swingup_only:
                continue  # a balance reference, not reported itself
            if label in PHYSICS_AS_DATA:
                cost = median_ratio(seconds, times["ContinuousCartPole-v0 (float32 state, default)"])
                data_table.append(f"| {label} | {num_envs} | {cost:.2f} |")
            # a rate ratio is the inverse time ratio
            ratio = 1 / median_ratio(seconds, times["Gymnasium CartPoleVectorEnv"])
            vector_table.append(f"| {label} | {num_envs} | {rate / 1e6:.1f} | {ratio:.2f} |")
    print("\n" + "\n".join(swingup_table if swingup_only else (*vector_table, "", *swingup_table, "", *data_table)))


if __name__ == "__main__":
    main()
