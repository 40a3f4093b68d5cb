"""TensorBoard scalars of training runs (``--tensorboard-log DIR``, SB3's and rl-baselines3-zoo's name).

Each run writes one TensorBoard run, ``DIR/ALGO/ENV/seedS``, with ``torch.utils.tensorboard.SummaryWriter``; the
x axis is env steps. The monitor writes ``eval/return_mean``, ``eval/return_std``, ``time/wall_seconds`` and
``time/env_steps`` at every curve evaluation, ``eval/confirmation_mean`` at every confirmation and
``test/return_mean|std|min`` once at the end; each algorithm adds its own training statistics under its name
(``ars/``, ``reinforce/``); SB3's logger is routed to the same writer (``train/``, ``rollout/``, ``time/``). Needs
the ``tensorboard`` extra: ``pip install "continuous-cartpole[tensorboard]"``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

TENSORBOARD_EXTRA = 'pip install "continuous-cartpole[tensorboard]"'


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
