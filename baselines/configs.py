"""The config dataclass of every algorithm, in one module that imports neither torch nor Stable-Baselines3.

``cartpole-baselines train ALGO --help`` builds its flags from these classes (field comments are the help text), so
the CLI answers without loading the algorithms. Each algorithm's module re-exports its config (``from baselines.ars
import ARSConfig, train``). Every config starts with the same fields, in the same order
(``baselines.algorithms.COMMON_CONFIG_FIELDS``), and validates its values when it is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from baselines import sb3_hyperparams as table
from baselines.budget import (
    MAX_LOG_STD,
    MAX_TRAIN_SEED,
    TORCH_ENV_BYTES,
    VECTOR_ENV_BYTES,
    check_memory,
    max_parallel_envs,
)
from baselines.sb3_validation import HYPERPARAMS_BASES, parse_hyperparams, resolve_hyperparams

EVAL_EVERY = 2_000  # env steps between curve evaluations: one default for every algorithm and entry point
EVAL_EPISODES = 20  # deterministic episodes per curve evaluation, and the fewest allowed
REINFORCE_EPISODE_STEPS = 1000  # a bound on the time limit of the torch envs REINFORCE trains on
MAX_STEPS = 2**40  # env steps: far past any run (ARS on 2 million sub-envs ran 267k steps/s here: 48 days)
# An evaluation runs its episodes side by side: a sub-env and a policy's activations (about 1 KiB) per episode.
MAX_EVAL_EPISODES = max_parallel_envs(VECTOR_ENV_BYTES + 1024)
# The integer fields every algorithm config starts with, and their smallest allowed values.
COMMON_INTEGER_MINIMUMS = {"seed": 0, "total_steps": 1, "eval_every": 1, "eval_episodes": 1}
# ... and their largest (``baselines.budget``).
COMMON_INTEGER_MAXIMUMS = {
    "seed": MAX_TRAIN_SEED,
    "total_steps": MAX_STEPS,
    "eval_every": MAX_STEPS,
    "eval_episodes": MAX_EVAL_EPISODES,
}
ARS_POLICIES = ("linear", "rff")
# Each rollout step computes (2 N k) x features sines and holds N x features perturbations: 65536 features keep
# both within a few MB per direction while allowing far more than a cart-pole policy needs.
MAX_ARS_FEATURES = 65_536


# Our algorithms' settings for a task other than balance (the ``task`` an env id is registered with); ``compare`` uses
# them, ``train`` takes them as flags. ARS on the swing-up: a first search on seed 0 (16 or 32 directions, step sizes
# 0.02-1.0, noise 0.05-0.3, 64 or 256 features, bandwidths 1-3) found noise 0.2 and step 0.3, but with 32 directions
# only 1 of 6 seeds solved within 20M steps. More directions cost little wall time (the 2 N rollouts step side by
# side: 512 sub-envs step in about 2.5x the time of 64), and 256 directions (top 128) with 256 features then solved
# seeds 0-3 at 27M-55M steps (1.7-4.5 minutes on one CPU thread); 128 directions with 64 features left seed 1 near
# 550 after 55M. Eager: the fused step's minute of compiling would not pay off at 512 sub-envs.
TASK_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "swingup": {
        "ars": {
            "total_steps": 150_000_000,
            "n_directions": 256,
            "top_b": 128,
            "noise_std": 0.2,
            "step_size": 0.3,
            "policy": "rff",
            "features": 256,
        },
        # One run on seed 0 of ContinuousCartPoleSwingUp-v0 learnt with these, slowly (424 after 5.8M steps)
        "reinforce": {"total_steps": 10_000_000, "episodes_per_update": 64, "learning_rate": 3e-3, "init_log_std": 0.0},
    },
}


def task_settings(algo: str, task: str) -> dict[str, Any]:
    """Config fields that ``algo`` uses on ``task`` instead of its defaults (empty for balance)."""
    return dict(TASK_SETTINGS.get(task, {}).get(algo, {}))


def check_integer_fields(config: Any, minimums: dict[str, int]) -> None:
    """``ValueError`` naming the first field of ``config`` that is not an integer >= its minimum (bools refused)."""
    for name, minimum in minimums.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{type(config).__name__}.{name} must be an integer >= {minimum}, got {value!r}")


def check_maximums(config: Any, maximums: dict[str, int]) -> None:
    """``ValueError`` naming the first (integer) field of ``config`` above its maximum; after check_integer_fields."""
    for name, maximum in maximums.items():
        if (value := getattr(config, name)) > maximum:
            raise ValueError(f"{type(config).__name__}.{name} must be at most {maximum}, got {value!r}")


def check_positive_finite(config: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{type(config).__name__}.{name} must be a positive finite number, got {value!r}")


def parse_randomize(texts: tuple[str, ...]) -> dict[str, tuple[float, float] | tuple[float, float, str]]:
    """``("length=0.25:1.0", "masspole=0.05:0.5:uniform")`` -> the envs' ``randomize`` argument; ``ValueError``
    for a malformed entry or a name given twice. The names and ranges are checked by the env itself."""
    ranges: dict[str, tuple[float, float] | tuple[float, float, str]] = {}
    for text in texts:
        name, sep, spec = (text if isinstance(text, str) else "").partition("=")
        parts = spec.split(":")
        try:
            if not sep or len(parts) not in (2, 3):
                raise ValueError
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(
                f"randomize entry {text!r} must look like NAME=LOW:HIGH or NAME=LOW:HIGH:uniform|log-uniform, "
                "e.g. length=0.25:1.0"
            ) from None
        if name.strip() in ranges:
            raise ValueError(f"randomize names {name.strip()} twice; give each parameter one range")
        ranges[name.strip()] = (low, high, parts[2]) if len(parts) == 3 else (low, high)
    return ranges


def randomize_kwargs(config: Any) -> dict[str, Any]:
    """The env keyword that randomizes the training envs' physics as ``config.randomize`` asks; {} for none."""
    ranges = parse_randomize(getattr(config, "randomize", ()))
    return {"randomize": ranges} if ranges else {}


def check_randomize(config: Any) -> None:
    """``ValueError`` naming the config for a ``randomize`` the envs would refuse (checked without making one);
    a list (as config.json holds it) is kept as a tuple."""
    entries = config.randomize
    if not isinstance(entries, (tuple, list)) or not all(isinstance(entry, str) for entry in entries):
        raise ValueError(f"{type(config).__name__}.randomize must be a tuple of strings, got {entries!r}")
    object.__setattr__(config, "randomize", tuple(entries))
    if not entries:
        return
    from continuous_cartpole.randomization import Randomization  # numpy: only when there is something to check

    try:
        Randomization.of(parse_randomize(config.randomize))
    except ValueError as error:
        raise ValueError(f"{type(config).__name__}.randomize: {error}") from None


@dataclass(frozen=True)
class ARSConfig:
    """Augmented Random Search; see ``baselines.ars`` for the algorithm and the notebook's settings."""

    env_id: str  # Gymnasium env id
    seed: int = 0  # training seed
    device: str = "auto"  # torch device: auto, cpu, cuda or cuda:N
    total_steps: int = 300_000  # env-step budget
    eval_every: int = EVAL_EVERY  # env steps between curve evaluations
    eval_episodes: int = EVAL_EPISODES  # deterministic episodes per curve evaluation (>= 20)
    stop_when_solved: bool = True  # stop at the first confirmed solve
    progress: bool = False  # show a progress bar
    # domain randomization: NAME=LOW:HIGH[:uniform|log-uniform], drawn per episode (the final test is nominal)
    randomize: tuple[str, ...] = ()
    n_directions: int = 8  # N: directions sampled per iteration
    top_b: int | None = 4  # b: best directions used in the update; None = all N (V1/V2 instead of V1-t/V2-t)
    noise_std: float = 0.3  # nu: perturbation scale
    step_size: float = 0.2  # alpha as in the paper (see baselines.ars for the notebook's alpha)
    normalize_states: bool = True  # V2: whiten states with the running mean/std of all states seen
    episodes_per_direction: int = 1  # episodes per perturbed policy and iteration, averaged
    until_perfect: bool = True  # once solved, train on until a confirmation has every episode at the time limit
    policy: str = "linear"  # linear: M @ state; rff: M @ random Fourier features of the state (swing-up)
    features: int = 256  # rff: number of random Fourier features
    bandwidth: float = 1.0  # rff: nu in sin(P state / nu + phi), on whitened states
    # fuse the torch env's step with torch.compile: about 3x faster with 64 sub-envs on a CPU, after about a minute
    # of compiling (C++ on the CPU, so it needs a C++ compiler); results equal eager ones to rounding
    compile_env: bool = False

    def __post_init__(self) -> None:
        check_integer_fields(self, {**COMMON_INTEGER_MINIMUMS, "n_directions": 1, "episodes_per_direction": 1})
        check_randomize(self)
        envs = max_parallel_envs(TORCH_ENV_BYTES)
        check_maximums(self, {**COMMON_INTEGER_MAXIMUMS, "n_directions": envs, "episodes_per_direction": envs})
        check_memory(
            2 * self.n_directions * self.episodes_per_direction * TORCH_ENV_BYTES,
            f"ARS's 2 x {self.n_directions} directions x {self.episodes_per_direction} episodes side by side",
            "lower n_directions or episodes_per_direction",
        )
        if self.policy not in ARS_POLICIES:
            raise ValueError(f"ARSConfig.policy must be one of {', '.join(ARS_POLICIES)}, got {self.policy!r}")
        check_integer_fields(self, {"features": 1})
        if self.features > MAX_ARS_FEATURES:
            raise ValueError(f"ARSConfig.features must be at most {MAX_ARS_FEATURES}, got {self.features}")
        check_positive_finite(self, ("bandwidth",))
        if self.top_b is not None and (
            isinstance(self.top_b, bool) or not isinstance(self.top_b, int) or not 1 <= self.top_b <= self.n_directions
        ):
            raise ValueError(f"ARSConfig.top_b must be None or an integer in [1, n_directions], got {self.top_b!r}")
        check_positive_finite(self, ("noise_std", "step_size"))

    @classmethod
    def notebook(cls, env_id: str, **overrides: Any) -> ARSConfig:
        """The course notebook's ARS: V1 with eps 0.1, alpha 1.0 and 10 directions (alpha_paper = 1.0 * 0.1 * 10)."""
        settings: dict[str, Any] = {"n_directions": 10, "top_b": None, "noise_std": 0.1, "normalize_states": False}
        settings["step_size"] = 1.0 * settings["noise_std"] * settings["n_directions"]
        return cls(env_id=env_id, **{**settings, **overrides})


@dataclass(frozen=True)
class ReinforceConfig:
    """REINFORCE with an MLP policy; see ``baselines.reinforce``."""

    env_id: str  # Gymnasium env id
    seed: int = 0  # training seed
    device: str = "auto"  # torch device: auto, cpu, cuda or cuda:N
    total_steps: int = 1_000_000  # env-step budget
    eval_every: int = EVAL_EVERY  # env steps between curve evaluations
    eval_episodes: int = EVAL_EPISODES  # deterministic episodes per curve evaluation (>= 20)
    stop_when_solved: bool = True  # stop at the first confirmed solve
    progress: bool = False  # show a progress bar
    # domain randomization: NAME=LOW:HIGH[:uniform|log-uniform], drawn per episode (the final test is nominal)
    randomize: tuple[str, ...] = ()
    episodes_per_update: int = 16  # episodes played in parallel for one gradient step
    learning_rate: float = 1e-2  # Adam step size
    gamma: float = 0.99  # discount of the reward-to-go
    hidden_size: int = 128  # units of the MLP's one ReLU hidden layer
    entropy_coef: float = 0.0  # weight of the entropy bonus (0 = plain REINFORCE)
    init_log_std: float = -0.5  # continuous MLP policy: initial log standard deviation
    notebook_linear: bool = False  # continuous only: the notebook's linear net with a sigmoid standard deviation
    until_perfect: bool = True  # once solved, train on until a confirmation has every episode at the time limit

    def __post_init__(self) -> None:
        check_integer_fields(self, {**COMMON_INTEGER_MINIMUMS, "episodes_per_update": 1, "hidden_size": 1})
        check_randomize(self)
        check_maximums(self, {**COMMON_INTEGER_MAXIMUMS, "episodes_per_update": max_parallel_envs(TORCH_ENV_BYTES)})
        # The loss keeps every step's hidden activations (float32, with their gradients) until the update.
        steps = self.episodes_per_update * REINFORCE_EPISODE_STEPS
        check_memory(
            steps * (TORCH_ENV_BYTES + 3 * 4 * self.hidden_size),
            f"REINFORCE's {self.episodes_per_update} episodes x {REINFORCE_EPISODE_STEPS} steps of a "
            f"{self.hidden_size}-unit hidden layer",
            "lower episodes_per_update or hidden_size",
        )
        check_positive_finite(self, ("learning_rate",))
        if not isinstance(self.gamma, (int, float)) or not 0 < self.gamma <= 1:
            raise ValueError(f"ReinforceConfig.gamma must be in (0, 1], got {self.gamma!r}")
        for name in ("entropy_coef", "init_log_std"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"ReinforceConfig.{name} must be a finite number, got {value!r}")
        if self.entropy_coef < 0:
            raise ValueError(f"ReinforceConfig.entropy_coef must be >= 0, got {self.entropy_coef!r}")
        if abs(value := self.init_log_std) > MAX_LOG_STD:
            raise ValueError(f"ReinforceConfig.init_log_std must be within +-{MAX_LOG_STD:g}, got {value!r}")


@dataclass(frozen=True)
class SB3Config:
    """A Stable-Baselines3 run; each algorithm's subclass below names it, its default budget and a help example."""

    ALGO: ClassVar[str] = ""
    HYPERPARAMS_EXAMPLE: ClassVar[str] = ""  # shown by ``train ALGO --help``

    env_id: str  # Gymnasium env id
    seed: int = 0  # training seed
    device: str = "auto"  # torch device: auto, cpu, cuda or cuda:N
    total_steps: int = 100_000  # env-step budget
    eval_every: int = EVAL_EVERY  # env steps between curve evaluations
    eval_episodes: int = EVAL_EPISODES  # deterministic episodes per curve evaluation (>= 20)
    stop_when_solved: bool = True  # stop at the first confirmed solve
    progress: bool = False  # show a progress bar
    # domain randomization: NAME=LOW:HIGH[:uniform|log-uniform], drawn per episode (the final test is nominal)
    randomize: tuple[str, ...] = ()
    # SB3 constructor arguments replacing the table's (baselines/sb3_hyperparams.py): a dict, or a JSON object's text
    hyperparams: str | dict[str, Any] = ""
    # What ``hyperparams`` go on top of: "table" (the table's entry) or "sb3" (SB3's own defaults, as
    # rl-baselines3-zoo reads a hyperparameter file's entry; ``hyperparams`` must then name the policy)
    hyperparams_base: str = "table"
    # Filled in from the table and ``hyperparams`` for this env: what the run will pass to SB3 (kept in config.json).
    sb3_hyperparams: dict[str, Any] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.ALGO:
            raise TypeError("use one of the algorithm configs (PPOConfig, A2CConfig, ...), not SB3Config itself")
        check_integer_fields(self, COMMON_INTEGER_MINIMUMS)
        check_randomize(self)
        check_maximums(self, COMMON_INTEGER_MAXIMUMS)
        if self.hyperparams_base not in HYPERPARAMS_BASES:
            raise ValueError(f"{type(self).__name__}.hyperparams_base must be one of {HYPERPARAMS_BASES}")
        if not isinstance(self.hyperparams, str):  # a copy, so a later change to the caller's dict changes nothing
            object.__setattr__(self, "hyperparams", parse_hyperparams(self.hyperparams))
        resolved = resolve_hyperparams(self.ALGO, self.env_id, self.hyperparams, self.hyperparams_base)
        object.__setattr__(self, "sb3_hyperparams", resolved)


def _budget(algo: str) -> int:
    return max(entry.budget for (name, _), entry in table.TABLE.items() if name == algo)


@dataclass(frozen=True)
class PPOConfig(SB3Config):
    ALGO: ClassVar[str] = "ppo"
    HYPERPARAMS_EXAMPLE: ClassVar[str] = '{"n_steps": 64, "policy_kwargs": {"net_arch": [32, 32]}}'
    total_steps: int = _budget("ppo")


@dataclass(frozen=True)
class A2CConfig(SB3Config):
    ALGO: ClassVar[str] = "a2c"
    HYPERPARAMS_EXAMPLE: ClassVar[str] = '{"n_steps": 8, "learning_rate": "lin_0.001"}'
    total_steps: int = _budget("a2c")


@dataclass(frozen=True)
class DQNConfig(SB3Config):
    ALGO: ClassVar[str] = "dqn"
    HYPERPARAMS_EXAMPLE: ClassVar[str] = '{"exploration_fraction": 0.2, "target_update_interval": 50}'
    total_steps: int = _budget("dqn")


@dataclass(frozen=True)
class SACConfig(SB3Config):
    ALGO: ClassVar[str] = "sac"
    HYPERPARAMS_EXAMPLE: ClassVar[str] = '{"buffer_size": 50000, "policy_kwargs": {"net_arch": [128, 128]}}'
    total_steps: int = _budget("sac")


@dataclass(frozen=True)
class TD3Config(SB3Config):
    ALGO: ClassVar[str] = "td3"
    HYPERPARAMS_EXAMPLE: ClassVar[str] = '{"noise_type": "ornstein-uhlenbeck", "noise_std": 0.2}'
    total_steps: int = _budget("td3")


@dataclass(frozen=True)
class SB3ARSConfig(SB3Config):
    ALGO: ClassVar[str] = "sb3-ars"
    HYPERPARAMS_EXAMPLE: ClassVar[str] = '{"n_delta": 4, "delta_std": 0.05}'
    total_steps: int = _budget("sb3-ars")


SB3_CONFIGS: dict[str, type[SB3Config]] = {
    config.ALGO: config for config in (PPOConfig, A2CConfig, DQNConfig, SACConfig, TD3Config, SB3ARSConfig)
}
