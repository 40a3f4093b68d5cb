"""Helpers every ``cartpole-baselines`` subcommand shares: user errors and env ids."""

from __future__ import annotations

import gymnasium as gym

from baselines.algorithms import CONTINUOUS, DISCRETE
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
    """``"continuous"`` for a Box action space, ``"discrete"`` for Discrete; anything else is refused."""
    env = gym.make(env_id)
    try:
        space = env.action_space
    finally:
        env.close()
    if isinstance(space, gym.spaces.Box):
        return CONTINUOUS
    if isinstance(space, gym.spaces.Discrete):
        return DISCRETE
    raise CliError(f"env {env_id} has a {type(space).__name__} action space; only Box and Discrete are supported")
