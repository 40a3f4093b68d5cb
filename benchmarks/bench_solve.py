"""Time to solve: our ARS and REINFORCE against SB3 PPO (rl-baselines3-zoo CartPole-v1 settings), same run, CPU.

    python benchmarks/bench_solve.py [--seeds 5] [--envs ContinuousCartPole-v0 DiscreteCartPole-v0]

Every algorithm trains in this process, one after the other, on one torch thread, within its default budget and
with the same protocol (``baselines.training``): a curve evaluation every ``--eval-every`` env steps; "solved" at
the first 100-episode confirmation whose mean reaches 475; wall time from the start of training, evaluations and
confirmations included; each run ends with a 100-episode test on held-out start states. One short warm-up run per
algorithm first, so that one-off imports (torch's optimizer machinery, SB3) are not charged to the first seed.
Prints env steps and seconds to solve (median [min-max] over seeds), the ratio of median wall seconds to PPO's,
the test mean (median [min-max] over seeds) and the lowest test episode of all seeds.
"""

from __future__ import annotations

import argparse
import platform
import statistics
from typing import Any

import torch

import continuous_cartpole
from baselines.algorithms import get_algorithm
from baselines.configs import EVAL_EVERY

ALGOS = ("ars", "reinforce", "ppo")


def train_once(algo: str, env_id: str, seed: int, eval_every: int, total_steps: int | None = None) -> Any:
    """One run with the algorithm's defaults; its default budget unless ``total_steps`` is given.

    PPO's default budget is the zoo's 1e5 steps, which also sets the length of its linear schedules.
    """
    algorithm = get_algorithm(algo)
    budget = {} if total_steps is None else {"total_steps": total_steps}
    config = algorithm.config_type()(env_id=env_id, seed=seed, device="cpu", eval_every=eval_every, **budget)
    return algorithm.load_module().train(config)


def spread(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--envs", nargs="+", default=list(continuous_cartpole.BALANCE_IDS))
    parser.add_argument("--algos", nargs="+", default=list(ALGOS))
    parser.add_argument("--eval-every", type=int, default=EVAL_EVERY)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch thread, torch {torch.__version__}; "
        f"{args.seeds} seeds, each algorithm's default budget, evaluation every {args.eval_every} env steps\n"
    )
    for algo in args.algos:
        train_once(algo, args.envs[0], 10_000, 2_000, total_steps=2_000)  # warm-up, not reported

    print("| algo | env | solved | env steps to solve | wall s to solve | wall / PPO (median) | test mean | test min |")
    print("|---|---|---|---|---|---|---|---|")
    for env_id in args.envs:
        rows: dict[str, tuple[list[int], list[float], list[float], float]] = {}
        for algo in args.algos:
            steps, seconds, tests, lowest = [], [], [], float("inf")
            for seed in range(args.seeds):
                result = train_once(algo, env_id, seed, args.eval_every)
                if result.solved_env_steps is not None:
                    steps.append(result.solved_env_steps)
                    seconds.append(result.solved_wall_seconds)
                tests.append(result.test_return_mean)
                lowest = min(lowest, result.test_return_min)
            rows[algo] = (steps, seconds, tests, lowest)
        ppo_seconds = rows.get("ppo", ([], [], [], 0.0))[1]
        for algo, (steps, seconds, tests, lowest) in rows.items():
            ratio = (
                f"{statistics.median(seconds) / statistics.median(ppo_seconds):.2f}"
                if seconds and ppo_seconds and len(ppo_seconds) == args.seeds
                else "-"
            )
            print(
                f"| {algo} | {env_id} | {len(steps)}/{args.seeds} | {spread(steps, ',.0f')} "
                f"| {spread(seconds, '.2f')} | {ratio} | {spread(tests, '.1f')} | {lowest:g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
