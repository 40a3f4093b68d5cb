"""What every ``cartpole-baselines`` subcommand shares: user errors, env ids, seeds, flag types and opening runs.

Opening a run directory executes nothing: its env id must be registered as it stands, and the package that
registers a foreign env is imported only when the user names it with ``--gym-package`` on the command line.
Heavy modules (gymnasium, torch) are imported inside the functions, so that ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro
from tyro.conf import arg
from tyro.constructors import PrimitiveConstructorSpec

from baselines.budget import SEED_LIMIT

PROG = "cartpole-baselines"
EXIT_USAGE = 2  # tyro's and argparse's code for bad usage; ours for every user error


class CliError(Exception):
    """A user error: ``cli.main`` prints the message on stderr (no traceback) and exits with code 2."""


def parse_seed(text: str) -> int:
    """NumPy, Gymnasium and torch all refuse negative seeds and seeds of 2**64 or more, so the command line refuses
    them first."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"a seed must be a non-negative integer, got {text!r}")
    if value >= SEED_LIMIT:
        raise ValueError(f"a seed must be below 2**64, got {text!r}")
    return value


def check_seeds(seed: int, sub_envs: int) -> None:
    """A ``CliError`` when ``--seed`` and the seeds of the ``sub_envs - 1`` sub-envs after it pass 2**64."""
    if seed + sub_envs > SEED_LIMIT:
        raise CliError(f"--seed {seed} seeds {sub_envs} sub-envs up to {seed + sub_envs - 1}, past 2**64 - 1; lower it")


MAX_COMPARE_SEEDS = 1000  # x 8 algorithms x 2 envs: 16000 runs, within what compare.json and results.csv may weigh


def check_compare_numbers(seeds: int | None, eval_episodes: int) -> None:
    """``compare``'s counts, checked before it plans (a plan holds one entry per run) or writes anything."""
    from baselines.configs import EVAL_EPISODES, MAX_EVAL_EPISODES

    if seeds is not None:
        check_count("--seeds", seeds, 1, MAX_COMPARE_SEEDS, "each seed is one run per algorithm and env")
    check_count("--eval-episodes", eval_episodes, EVAL_EPISODES, MAX_EVAL_EPISODES, "they run side by side")


def check_count(flag: str, value: int, low: int, high: int, why: str) -> None:
    """A ``CliError`` unless ``low <= value <= high``; ``why`` says what the upper limit protects."""
    if not low <= value <= high:
        raise CliError(f"{flag} must be in [{low}, {high}] ({why}), got {value}")


Seed = Annotated[
    int,
    PrimitiveConstructorSpec(
        nargs=1,
        metavar="SEED",
        instance_from_str=lambda args: parse_seed(args[0]),
        is_instance=lambda value: isinstance(value, int) and not isinstance(value, bool),
        str_from_instance=lambda value: [str(value)],
    ),
]
EnvId = Annotated[str, arg(metavar="ID")]
OptionalEnvId = Annotated[str | None, arg(metavar="ID")]
Directory = Annotated[Path, arg(metavar="DIR")]
# ``--gym-package a --gym-package b``, as rl-baselines3-zoo's ``--gym-packages``.
GymPackages = Annotated[
    tuple[str, ...],
    tyro.conf.UseAppendAction,
    arg(metavar="MODULE", help="import MODULE first, to register the run's env (a run directory never imports code)"),
]
# ``--randomize length=0.25:1.0 --randomize masspole=0.05:0.5``: ranges of physics drawn per episode
# (``baselines.configs.parse_randomize`` reads them).
RandomizeFlags = Annotated[tuple[str, ...], tyro.conf.UseAppendAction, arg(metavar="NAME=LOW:HIGH")]
# A run directory's checkpoints, as ``baselines.algorithms.BEST`` and ``LAST`` name them.
Checkpoint = Annotated[
    Literal["best", "last"],
    arg(help="the run's best checkpoint (highest 100-episode confirmation) or its last one"),
]


def resolve_env_id(env_id: str) -> str:
    """The registered id for ``env_id`` (``module:EnvId`` accepted); a ``CliError`` naming an unknown id or module."""
    import gymnasium as gym

    from continuous_cartpole.registration import registered_id

    try:
        return registered_id(env_id)
    except ImportError as error:
        module = env_id.rpartition(":")[0]
        raise CliError(f"cannot import module {module!r} of env id {env_id!r}: {error}") from error
    except ValueError as error:  # an empty id
        raise CliError(f"{error}; pass a registered id such as ContinuousCartPole-v0") from error
    except gym.error.Error as error:
        raise CliError(f"unknown env id {env_id!r}: {error}") from error


def env_package(env_id: str) -> str | None:
    """The module of Gymnasium's ``module:EnvId`` form, which a run stores as the package to import; else None."""
    return env_id.rpartition(":")[0] or None


def import_gym_packages(packages: tuple[str, ...]) -> None:
    for package in packages:
        if not all(part.isidentifier() for part in package.split(".")):
            raise CliError(
                f"--gym-package {package!r} is not a module name (dotted identifiers, e.g. my_envs.cartpole)"
            )
        try:
            importlib.import_module(package)
        except ImportError as error:
            raise CliError(f"--gym-package {package}: cannot import it: {error}") from error


def run_env_id(run_config: dict[str, Any], run_dir: str | os.PathLike[str]) -> str:
    """The registered id of a run's env, importing nothing: a package it needs must be imported already."""
    import gymnasium as gym

    module, _, name = run_config["env_id"].rpartition(":")
    for package in filter(None, (run_config.get("gym_package"), module)):
        if package not in sys.modules:
            raise CliError(
                f"run {run_dir} uses an env of package {package!r}, which a run directory does not import; "
                f"pass --gym-package {package} if you trust it"
            )
    try:
        return gym.spec(name).id
    except gym.error.Error as error:
        raise CliError(
            f"run {run_dir}: env id {name!r} is not registered ({error}); pass --gym-package MODULE to register it"
        ) from error


def load_run(
    run_dir: str | os.PathLike[str], gym_packages: tuple[str, ...], checkpoint: str
) -> tuple[dict[str, Any], str, Any]:
    """``(config, registered env id, policy)`` of a run, the policy from its ``checkpoint`` ("best" or "last");
    refuses a policy whose actions do not fit the env."""
    import baselines  # looked up at call time: the policy loader imports torch only now
    from baselines.algorithms import CONTINUOUS, DISCRETE
    from baselines.runs import read_run_config

    import_gym_packages(gym_packages)
    run_config = read_run_config(run_dir)
    env_id = run_env_id(run_config, run_dir)
    policy = baselines.load_policy(run_dir, checkpoint)
    kind = action_kind(env_id)
    continuous = getattr(policy, "continuous", None)  # our policies say; a stand-in policy may not
    policy_kind = CONTINUOUS if continuous else DISCRETE
    if continuous is not None and kind != policy_kind:
        raise CliError(f"run {run_dir}: its policy has {policy_kind} actions but env {env_id} is {kind}")
    return run_config, env_id, policy


def action_kind(env_id: str) -> str:
    """``"continuous"`` for a Box action space, ``"discrete"`` for Discrete; a ``CliError`` for anything else."""
    from baselines import env_checks

    try:
        return env_checks.action_kind(env_id)
    except ValueError as error:
        raise CliError(str(error)) from error


HEADLESS_VIDEO_DRIVERS = frozenset({"offscreen", "dummy"})
# Set to 1 to open windows on a headless video driver anyway: tests that drive the window code use it.
ALLOW_HEADLESS_WINDOW = "CARTPOLE_ALLOW_HEADLESS_WINDOW"


def require_display(command: str) -> None:
    """Refuse a window that nobody could see: without a display pygame falls back to an invisible driver."""
    if os.environ.get(ALLOW_HEADLESS_WINDOW) == "1":
        return
    import pygame

    try:
        pygame.display.init()
        driver = pygame.display.get_driver()
    except pygame.error as error:
        driver = f"none: {error}"
    if driver in HEADLESS_VIDEO_DRIVERS or driver.startswith("none"):
        raise CliError(
            f"{command} needs a display, but pygame has none (video driver {driver}); "
            "save a video instead with: cartpole-baselines render ... --out FILE.gif|FILE.mp4"
        )
