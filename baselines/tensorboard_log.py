"""TensorBoard scalars of training runs (``--tensorboard-log DIR``, SB3's and rl-baselines3-zoo's name).

Each run writes one TensorBoard run, ``DIR/ALGO/ENV/seedS``, with ``torch.utils.tensorboard.SummaryWriter``; the
x axis is env steps. Quantities SB3 also logs carry SB3's tags, so one TensorBoard compares our runs with SB3's
(and the zoo's) on the same curves: at every curve evaluation ``eval/mean_reward``, ``eval/mean_ep_length``,
``time/fps``, ``time/time_elapsed`` and ``time/total_timesteps``; the training episodes' mean return as
``rollout/ep_rew_mean``. Ours that SB3 lacks keep our names: ``eval/return_std``, ``eval/confirmation_mean`` at
every confirmation, ``test/return_mean|std|min`` once at the end, and each algorithm's own statistics under its
name (``ars/``, ``reinforce/``). SB3's logger is routed to the same writer (``train/``, ``rollout/``), except the
``time/`` tags the monitor writes. Needs the ``tensorboard`` extra: ``pip install "continuous-cartpole[tensorboard]"``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

TENSORBOARD_EXTRA = 'pip install "continuous-cartpole[tensorboard]"'

# The monitor's tags: SB3's names (EvalCallback's and the logger's) where SB3 logs the same quantity.
EVAL_RETURN_MEAN = "eval/mean_reward"
EVAL_LENGTH_MEAN = "eval/mean_ep_length"
EVAL_RETURN_STD = "eval/return_std"
TIME_FPS = "time/fps"  # env steps per second of wall time since the run started, evaluations included
TIME_ELAPSED = "time/time_elapsed"
TIME_ENV_STEPS = "time/total_timesteps"
MONITOR_TIME_TAGS = frozenset({TIME_FPS, TIME_ELAPSED, TIME_ENV_STEPS})  # SB3's own values of these are dropped
# Training statistics of our algorithms that SB3 logs under another name: the mean return of the training episodes.
SB3_TAGS = {"ars/return_mean": "rollout/ep_rew_mean", "reinforce/episode_return_mean": "rollout/ep_rew_mean"}


def run_log_dir(root: str | os.PathLike[str], algo: str, env_id: str, seed: int) -> Path:
    """The TensorBoard run of one training run: ``root/ALGO/ENV/seedS``."""
    return Path(root) / algo / env_id / f"seed{seed}"


def check_tensorboard() -> None:
    """``ValueError`` naming the extra to install when TensorBoard is missing; called before a run starts."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (needs the tensorboard package)
    except ImportError as error:
        raise ValueError(f"--tensorboard-log needs TensorBoard ({error}); {TENSORBOARD_EXTRA}") from None


def open_writer(root: str | os.PathLike[str], algo: str, env_id: str, seed: int) -> Any:
    """A ``SummaryWriter`` for the run ``root/ALGO/ENV/seedS`` (created if missing)."""
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    _quiet_writer_threads()
    return SummaryWriter(log_dir=str(run_log_dir(root, algo, env_id, seed)))


def _quiet_writer_threads() -> None:
    """No traceback from TensorBoard's writer thread (a full disk): the writer raises the same error in the training
    thread at its next write or at close, where it is reported in one line."""
    if getattr(threading.excepthook, "quiets_tensorboard", False):
        return
    previous = threading.excepthook

    def excepthook(args: threading.ExceptHookArgs) -> None:
        if not type(args.thread).__module__.startswith("tensorboard."):
            previous(args)

    excepthook.quiets_tensorboard = True  # type: ignore[attr-defined]
    threading.excepthook = excepthook
