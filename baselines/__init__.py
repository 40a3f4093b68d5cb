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
- watching: ``rollouts``, ``video``, ``play``, and ``inline`` (``baselines.show``: a rollout shown in Jupyter);
- the command line: ``cli`` (``cartpole-baselines``, one module per subcommand).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["load_policy", "show"]


def __getattr__(name: str) -> Any:
    """``baselines.show`` is ``baselines.inline.show``, imported on first use (it loads gymnasium and pygame)."""
    if name == "show":
        from baselines.inline import show

        return show
    raise AttributeError(f"module 'baselines' has no attribute {name!r}")


def load_policy(run_dir: str | os.PathLike[str], checkpoint: str = "best") -> Any:
    """The policy saved in a run directory written by ``cartpole-baselines train``, with SB3's ``predict``.

    ``checkpoint="best"`` (the highest 100-episode confirmation mean, the one the run's test measured) or
    ``"last"`` (the latest evaluation's policy).

    Reads ``config.json`` for the algorithm and rebuilds the policy from its checkpoint, which holds tensors only
    (loading never unpickles). Raises ``RunError`` or ``CheckpointError`` (both ``ValueError``) naming the file.
    """
    from baselines.runs import load_run_policy

    return load_run_policy(run_dir, checkpoint)
