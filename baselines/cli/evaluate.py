"""``cartpole-baselines evaluate DIR``: the saved policy's return over many deterministic episodes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import tyro

from baselines.cli.common import (
    Checkpoint,
    CliError,
    Directory,
    GymPackages,
    RandomizeFlags,
    Seed,
    check_count,
    check_seeds,
    load_run,
)

NAME = "evaluate"
HELP = "evaluate a run's saved policy: deterministic episodes side by side in one vector env"
DEFAULT_SEED_HINT = "(default: the run's held-out test seed, so 100 episodes reproduce the run's test)"


@dataclass(frozen=True)
class Evaluate:
    run_dir: tyro.conf.Positional[Directory]  # run directory written by 'train'
    episodes: int = 100  # number of episodes
    seed: Annotated[Seed | None, tyro.conf.arg(metavar="SEED", help_behavior_hint=DEFAULT_SEED_HINT)] = None  # env seed
    checkpoint: Checkpoint = "best"
    json: bool = False  # print the result as one JSON object
    gym_package: GymPackages = ()
    randomize: RandomizeFlags = ()
    """draw these physical parameters per episode, as 'train --randomize' does (default: the nominal physics, also
    for a run trained with --randomize)"""

    def run(self) -> int:
        import gymnasium as gym
        import numpy as np

        from baselines.configs import MAX_EVAL_EPISODES, parse_randomize
        from baselines.evaluation import evaluate
        from baselines.training import test_seed

        check_count("--episodes", self.episodes, 1, MAX_EVAL_EPISODES, "run side by side, they must fit in memory")
        if self.seed is not None:
            check_seeds(self.seed, self.episodes)
        try:
            ranges = parse_randomize(self.randomize)
        except ValueError as error:
            raise CliError(f"--randomize: {error}") from error
        run_config, env_id, policy = load_run(self.run_dir, self.gym_package, self.checkpoint)
        threshold = gym.spec(env_id).reward_threshold
        seed = self.seed if self.seed is not None else test_seed(int(run_config["config"].get("seed", 0)))
        env_kwargs = {"randomize": ranges} if ranges else None
        try:
            returns = evaluate(policy, env_id, episodes=self.episodes, seed=seed, env_kwargs=env_kwargs)
        except ValueError as error:  # a range the env refuses
            raise CliError(f"--randomize: {error}") from error
        result: dict[str, Any] = {
            "run_dir": str(self.run_dir),
            "algo": run_config["algo"],
            "env_id": env_id,
            "checkpoint": self.checkpoint,
            "episodes": self.episodes,
            "seed": seed,
            "randomize": list(self.randomize),
            "return_mean": float(np.mean(returns)),
            "return_std": float(np.std(returns)),
            "return_min": float(np.min(returns)),
            "return_max": float(np.max(returns)),
            "reward_threshold": threshold,
            "solved": None if threshold is None else bool(np.mean(returns) >= threshold),
        }
        print(json.dumps(result) if self.json else _describe(result))
        return 0


def command_type() -> type:
    return Evaluate


def _describe(result: dict[str, Any]) -> str:
    threshold = result["reward_threshold"]
    verdict = "" if threshold is None else f"; {'at or above' if result['solved'] else 'below'} {threshold:g}"
    return (
        f"{result['algo']} on {result['env_id']}: return {result['return_mean']:.1f} ± {result['return_std']:.1f} "
        f"(min {result['return_min']:g}, max {result['return_max']:g}) over {result['episodes']} episodes "
        f"of the {result['checkpoint']} checkpoint, seed {result['seed']}"
        f"{', physics randomized: ' + ' '.join(result['randomize']) if result['randomize'] else ''}{verdict}"
    )
