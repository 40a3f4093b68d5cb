"""``cartpole-baselines evaluate DIR``: the saved policy's return over many deterministic episodes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from baselines.cli_common import CliError, add_checkpoint_arg, add_gym_package_flag, load_run, seed_arg


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a run's saved policy",
        description="Run deterministic episodes of a run's saved policy on its env, side by side in one vector env.",
    )
    parser.add_argument("run_dir", type=Path, metavar="DIR", help="run directory written by 'train'")
    parser.add_argument("--episodes", type=int, default=100, help="number of episodes (default: 100)")
    parser.add_argument("--seed", type=seed_arg, help="env seed (default: the run's held-out test seed)")
    add_checkpoint_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    add_gym_package_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np

    from baselines.evaluation import evaluate
    from baselines.training import test_seed

    if args.episodes < 1:
        raise CliError(f"--episodes must be at least 1, got {args.episodes}")
    run_config, env_id, policy = load_run(args.run_dir, args.gym_package, args.checkpoint)
    threshold = gym.spec(env_id).reward_threshold
    seed = args.seed if args.seed is not None else test_seed(int(run_config["config"].get("seed", 0)))
    returns = evaluate(policy, env_id, episodes=args.episodes, seed=seed)
    result: dict[str, Any] = {
        "run_dir": str(args.run_dir),
        "algo": run_config["algo"],
        "env_id": env_id,
        "checkpoint": args.checkpoint,
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
            f"(min {result['return_min']:g}, max {result['return_max']:g}) over {args.episodes} episodes "
            f"of the {args.checkpoint} checkpoint, "
            f"seed {seed}{verdict}"
        )
    return 0
