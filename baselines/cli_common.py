"""Helpers every ``cartpole-baselines`` subcommand shares: user errors, env ids and seeds."""

from __future__ import annotations

import argparse

import gymnasium as gym

from baselines import env_checks
from continuous_cartpole.registration import registered_id


class CliError(Exception):
    """A user error: ``cli.main`` prints the message on stderr (no traceback) and exits with code 2."""


def resolve_env_id(env_id: str) -> str:
    """The registered id for ``env_id`` (``module:EnvId`` accepted); a ``CliError`` naming an unknown id or module."""
    try:
        return registered_id(env_id)
    except ImportError as error:
        module = env_id.rpartition(":")[0]
        raise CliError(f"cannot import module {module!r} of env id {env_id!r}: {error}") from error
    except gym.error.Error as error:
        raise CliError(f"unknown env id {env_id!r}: {error}") from error


def action_kind(env_id: str) -> str:
    """``"continuous"`` for a Box action space, ``"discrete"`` for Discrete; a ``CliError`` for anything else."""
    try:
        return env_checks.action_kind(env_id)
    except ValueError as error:
        raise CliError(str(error)) from error


def seed_arg(text: str) -> int:
    """argparse type of ``--seed``: NumPy, Gymnasium and torch all refuse negative seeds, so refuse them here."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be a non-negative integer, got {text!r}")
    return value


def add_checkpoint_arg(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint best|last`` of ``evaluate`` and ``render`` (names as in ``baselines.algorithms``)."""
    parser.add_argument(
        "--checkpoint",
        choices=("best", "last"),
        default="best",
        help="the run's best checkpoint (highest 100-episode confirmation) or its last one (default: best)",
    )
