"""Baselines for the cart-pole environments: hand-written ARS and REINFORCE, and Stable-Baselines3 comparisons.

``import baselines`` stays light (no torch): everything heavy is imported when first used. The modules:

- algorithms: ``ars``, ``reinforce``, ``sb3`` (with its table ``sb3_hyperparams`` and the one validation of its
  hyperparameters, ``sb3_validation``), their configs in ``configs``, the registry ``algorithms``, and the limits
  every number is checked against, ``budget``;
- the training protocol: ``training`` (evaluations, the solved rule, the test), ``evaluation``, ``devices``,
  ``env_checks``;
- run directories: ``runs``, ``checkpoint``, ``atomic``;
- experiments: ``compare`` (plan, lock, the local and Ray executors, results), ``stats``, ``plotting``,
  ``tensorboard_log``;
- watching: ``rollouts``, ``video``, ``play``;
- the command line: ``cli`` (``cartpole-baselines``, one module per subcommand).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["load_policy"]


def load_policy(run_dir: str | os.PathLike[str], checkpoint: str = "best") -> Any:
    """The policy saved in a run directory written by ``cartpole-baselines train``, with SB3's ``predict``.

    ``checkpoint="best"`` (the highest 100-episode confirmation mean, the one the run's test measured) or
    ``"last"`` (the latest evaluation's policy).

    Reads ``config.json`` for the algorithm and rebuilds the policy from its checkpoint, which holds tensors only
    (loading never unpickles). Raises ``RunError`` or ``CheckpointError`` (both ``ValueError``) naming the file.
    """
    from baselines.algorithms import get_algorithm
    from baselines.runs import RunError, read_run_config

    run_config = read_run_config(run_dir)
    try:
        algorithm = get_algorithm(run_config["algo"])
    except ValueError as error:
        raise RunError(f"run {run_dir}: {error}") from error
    return algorithm.load_policy(run_dir, checkpoint)
