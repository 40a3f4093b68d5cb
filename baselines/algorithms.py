"""Registry of trainable algorithms: name -> where its code lives. Adding an algorithm is adding one entry.

Modules are imported only when an algorithm is used, so listing names (``--help``) stays free of torch and SB3.

The contract between an algorithm and the rest of the package (run directories, ``compare``, the CLI):

- its config is a frozen dataclass in ``baselines.configs`` (``config_class``; no torch there, so the CLI builds
  ``train ALGO``'s flags from it without loading the algorithm) whose first fields are ``COMMON_CONFIG_FIELDS`` in
  that order, which validates its values in ``__post_init__`` (``ValueError`` naming the field), and which the
  algorithm's module re-exports;
- the module has ``train(config, monitor=None) -> TrainResult`` (``baselines.training``), which calls
  ``monitor.update(env_steps, policy)`` after every update and stops when it returns True;
- a policy has SB3's ``predict(obs, deterministic=True) -> (action, None)``, plus ``tensors()`` (name -> CPU
  tensor) and ``metadata()`` (JSON-able scalars), saved as safetensors in ``CHECKPOINT_FILES`` (SB3's policies
  too: its ``.zip`` would unpickle on loading); ``policy_from_checkpoint(tensors, metadata) -> policy`` rebuilds it
  and raises ``ValueError``/``KeyError``/``TypeError`` for tensors or metadata it cannot use;
- optionally ``check_env(env_id) -> None``, raising ``ValueError`` for an env it cannot train on (SB3's env
  checkers); the CLI calls it before it creates the run directory and reports the error without a traceback.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from baselines.checkpoint import CHECKPOINT_FILE, CheckpointError, load_checkpoint, save_checkpoint

# A run directory's two checkpoints. "last": the policy of the latest evaluation. "best": the policy with the highest
# 100-episode confirmation mean (see ``baselines.training``); until a confirmation has run, the latest policy.
BEST, LAST = "best", "last"
CHECKPOINT_FILES = {BEST: "best_policy.safetensors", LAST: CHECKPOINT_FILE}

CONFIGS_MODULE = "baselines.configs"
CONTINUOUS = "continuous"
DISCRETE = "discrete"

# The fields every config starts with, in this order; the CLI has its own flags for them.
COMMON_CONFIG_FIELDS = (
    "env_id",
    "seed",
    "device",
    "total_steps",
    "eval_every",
    "eval_episodes",
    "stop_when_solved",
    "progress",
)


@dataclass(frozen=True)
class Algorithm:
    name: str
    module: str
    config_class: str
    description: str  # one line, shown by ``train --help``
    action_spaces: frozenset[str] = frozenset({CONTINUOUS, DISCRETE})
    continuous_only_options: frozenset[str] = frozenset()  # config fields refused on a discrete env
    torch_env: bool = False  # trains on TorchCartPoleVectorEnv, so only on continuous_cartpole's envs
    config_module: str = CONFIGS_MODULE  # where ``config_class`` lives: a module that does not import torch

    def load_module(self) -> ModuleType:
        return importlib.import_module(self.module)

    def config_type(self) -> type:
        """The config dataclass; importing its module loads neither torch nor SB3."""
        config_type = getattr(importlib.import_module(self.config_module), self.config_class)
        where = f"{self.config_module}.{self.config_class}"
        if not (isinstance(config_type, type) and is_dataclass(config_type)):
            raise TypeError(f"{where} must be a dataclass")
        names = tuple(field.name for field in fields(config_type))[: len(COMMON_CONFIG_FIELDS)]
        if names != COMMON_CONFIG_FIELDS:
            raise TypeError(f"{where} must start with the fields {COMMON_CONFIG_FIELDS}")
        return config_type

    def save_policy(self, policy: Any, run_dir: Path, checkpoint: str = LAST) -> Path:
        """Save ``policy`` into ``run_dir`` as its ``checkpoint`` ("best" or "last") atomically; returns the path."""
        path = Path(run_dir) / checkpoint_file(checkpoint)
        save_checkpoint(path, policy.tensors(), policy.metadata())
        return path

    def load_policy(self, run_dir: Path, checkpoint: str = BEST) -> Any:
        """The ``checkpoint`` ("best" or "last") saved in ``run_dir``; ``CheckpointError`` when the file is missing
        or unusable."""
        path = Path(run_dir) / checkpoint_file(checkpoint)
        tensors, metadata = load_checkpoint(path)
        try:
            return self.load_module().policy_from_checkpoint(tensors, metadata)
        except (KeyError, ValueError, TypeError, RuntimeError) as error:  # missing/misshapen tensors or metadata
            raise CheckpointError(f"checkpoint {path} does not describe a valid {self.name} policy: {error}") from error


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm(
            "ars",
            "baselines.ars",
            "ARSConfig",
            "Augmented Random Search (Mania et al. 2018), linear policy, on the torch env",
            torch_env=True,
        ),
        Algorithm(
            "reinforce",
            "baselines.reinforce",
            "ReinforceConfig",
            "REINFORCE policy gradient with an MLP policy, on the torch env",
            continuous_only_options=frozenset({"notebook_linear", "init_log_std"}),
            torch_env=True,
        ),
        Algorithm("ppo", "baselines.sb3", "PPOConfig", "Stable-Baselines3 PPO, rl-baselines3-zoo settings"),
        Algorithm("a2c", "baselines.sb3", "A2CConfig", "Stable-Baselines3 A2C, rl-baselines3-zoo settings"),
        Algorithm(
            "dqn",
            "baselines.sb3",
            "DQNConfig",
            "Stable-Baselines3 DQN, rl-baselines3-zoo settings (discrete envs only)",
            action_spaces=frozenset({DISCRETE}),
        ),
        Algorithm(
            "sac",
            "baselines.sb3",
            "SACConfig",
            "Stable-Baselines3 SAC (continuous envs only)",
            action_spaces=frozenset({CONTINUOUS}),
        ),
        Algorithm(
            "td3",
            "baselines.sb3",
            "TD3Config",
            "Stable-Baselines3 TD3 (continuous envs only)",
            action_spaces=frozenset({CONTINUOUS}),
        ),
        Algorithm("sb3-ars", "baselines.sb3", "SB3ARSConfig", "sb3-contrib ARS, linear policy, zoo settings"),
    )
}


def checkpoint_file(checkpoint: str) -> str:
    """The file name of checkpoint "best" or "last"; ``ValueError`` naming the choices for anything else."""
    try:
        return CHECKPOINT_FILES[checkpoint]
    except KeyError:
        raise ValueError(f"unknown checkpoint {checkpoint!r}; choose {' or '.join(CHECKPOINT_FILES)}") from None


def get_algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}") from None
