"""``cartpole-baselines evaluate DIR``: the saved policy's return over many deterministic episodes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from baselines.cli_common import CliError, add_gym_package_flag, load_run, seed_arg

# Apart from the training env (seed) and the training-time evaluations (seed + 1_000_003).
EVALUATE_SEED_OFFSET = 2_000_006


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a run's saved policy",
        description="Run deterministic episodes of a run's saved policy on its env, side by side in one vector env.",
    )
    parser.add_argument("run_dir", type=Path, metavar="DIR", help="run directory written by 'train'")
    parser.add_argument("--episodes", type=int, default=100, help="number of episodes (default: 100)")
    parser.add_argument("--seed", type=seed_arg, help=f"env seed (default: the run's seed + {EVALUATE_SEED_OFFSET})")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    add_gym_package_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np

    from baselines.evaluation import evaluate

    if args.episodes < 1:
        raise CliError(f"--episodes must be at least 1, got {args.episodes}")
    run_config, env_id, policy = load_run(args.run_dir, args.gym_package)
    threshold = gym.spec(env_id).reward_threshold
    seed = args.seed if args.seed is not None else int(run_config["config"].get("seed", 0)) + EVALUATE_SEED_OFFSET
    returns = evaluate(policy, env_id, episodes=args.episodes, seed=seed)
    result: dict[str, Any] = {
        "run_dir": str(args.run_dir),
        "algo": run_config["algo"],
        "env_id": env_id,
        "episodes": args.episodes,
        "seed": seed,
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "return_min": float(np.min(returns)),
        "return_max": float(np.max(returns)),
        "reward_threshold": threshold,
        "solved": None if threshold is None else bool(np.mean(returns) >= threshold),
    }
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "" if threshold is None else f"; {'at or above' if result['solved'] else 'below'} {threshold:g}"
        print(
            f"{result['algo']} on {env_id}: return {result['return_mean']:.1f} ± {result['return_std']:.1f} "
            f"(min {result['return_min']:g}, max {result['return_max']:g}) over {args.episodes} episodes, "
            f"seed {seed}{verdict}"
        )
    return 0
