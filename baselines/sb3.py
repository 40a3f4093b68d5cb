"""Stable-Baselines3 (and sb3-contrib ARS) trained the way our algorithms are: same monitor, files and checkpoints.

``train(config)`` refuses an env whose action space the algorithm does not support, passes the env through the
checker gate (``baselines.env_checks``), builds the SB3 model from the hyperparameter table
(``baselines.sb3_hyperparams``, imported as ``table``) with the config's ``hyperparams`` on top, and learns with a
callback that hands every env step to our ``TrainingMonitor``: evaluation protocol, cadence and "solved" rule are
the monitor's, not SB3's ``EvalCallback``. When the monitor says stop (solved, or the budget), the callback raises,
because sb3-contrib's ARS ignores a callback's False.

Checkpoints hold the SB3 policy's ``state_dict`` as safetensors plus JSON metadata to rebuild the network (the
policy class by its SB3 alias, the spaces, the ``policy_kwargs``); SB3's own ``.zip`` is not used because loading it
unpickles. ``policy_from_checkpoint`` constructs the policy and loads the tensors with ``strict=True``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import ARS
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule

from baselines import tensorboard_log as tensorboard
from baselines.bounded_read import parse_json
from baselines.checkpoint import MAX_METADATA_DEPTH
from baselines.configs import SB3_CONFIGS as CONFIGS
from baselines.configs import (
    A2CConfig,
    DQNConfig,
    PPOConfig,
    SACConfig,
    SB3ARSConfig,
    SB3Config,
    TD3Config,
    randomize_kwargs,
)
from baselines.devices import resolve_device
from baselines.env_checks import check_env_for_training
from baselines.runs import RunError
from baselines.sb3_validation import ACTIVATION_NAMES, LINEAR_PREFIX, ZOO_KEYS, net_arch_chains
from baselines.training import TrainingMonitor, TrainResult
from continuous_cartpole import registered_id

# The configs live in baselines.configs (no torch, so the CLI's help stays fast) and are re-exported here.
__all__ = [
    "CONFIGS",
    "A2CConfig",
    "DQNConfig",
    "PPOConfig",
    "SACConfig",
    "SB3ARSConfig",
    "SB3Config",
    "TD3Config",
    "check_env",
    "policy_from_checkpoint",
    "train",
]

ALGORITHM_CLASSES: dict[str, type[BaseAlgorithm]] = {
    "ppo": PPO,
    "a2c": A2C,
    "dqn": DQN,
    "sac": SAC,
    "td3": TD3,
    "sb3-ars": ARS,
}
# What each policy constructor takes besides the spaces and policy_kwargs (ARS policies take neither).
TAKES_LR_SCHEDULE = frozenset({"ppo", "a2c", "dqn", "sac", "td3"})
TAKES_USE_SDE = frozenset({"ppo", "a2c", "sac"})
ACTIVATIONS: dict[str, type[torch.nn.Module]] = dict(
    zip(
        ACTIVATION_NAMES,
        (torch.nn.ReLU, torch.nn.Tanh, torch.nn.ELU, torch.nn.LeakyReLU, torch.nn.GELU, torch.nn.SiLU),
        strict=True,
    )
)
CHECKPOINT_KIND = "sb3"


# ---- building the model ----


def decode_policy_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``policy_kwargs`` with the activation named as a string turned into its torch class."""
    decoded = dict(policy_kwargs)
    if "activation_fn" in decoded:
        name = decoded["activation_fn"]
        if name not in ACTIVATIONS:
            raise ValueError(f"policy_kwargs.activation_fn must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
        decoded["activation_fn"] = ACTIVATIONS[name]
    return decoded


def _schedule(value: Any) -> Any:
    """The zoo's ``"lin_X"``: X at the start, falling linearly to 0 at the end of the budget."""
    if isinstance(value, str) and value.startswith(LINEAR_PREFIX):
        try:
            start = float(value.removeprefix(LINEAR_PREFIX))
        except ValueError:
            raise ValueError(f"schedule {value!r} must be lin_<number>") from None
        return LinearSchedule(start, 0.0, 1.0)
    return value


def _action_noise(noise_type: str | None, noise_std: float, action_space: gym.Space) -> Any:
    if noise_type is None:
        return None
    if not isinstance(action_space, spaces.Box):
        raise ValueError("noise_type needs a continuous (Box) action space")
    mean, sigma = np.zeros(action_space.shape), np.full(action_space.shape, float(noise_std))
    if noise_type == "normal":
        return NormalActionNoise(mean, sigma)
    if noise_type == "ornstein-uhlenbeck":
        return OrnsteinUhlenbeckActionNoise(mean, sigma)
    raise ValueError(f"noise_type must be 'normal' or 'ornstein-uhlenbeck', got {noise_type!r}")


def build_model(algo: str, hyperparams: dict[str, Any], env: Any, seed: int, device: torch.device) -> BaseAlgorithm:
    """The SB3 model for resolved table ``hyperparams`` (without ``n_envs``, which made ``env``)."""
    values = {key: _schedule(value) for key, value in hyperparams.items() if key not in ZOO_KEYS}
    policy = values.pop("policy")
    values["policy_kwargs"] = decode_policy_kwargs(values.get("policy_kwargs") or {})
    if isinstance(values.get("train_freq"), list):  # JSON's [N, "episode"]: SB3 reads only a tuple as a pair
        values["train_freq"] = tuple(values["train_freq"])
    noise = _action_noise(hyperparams.get("noise_type"), hyperparams.get("noise_std", 0.1), env.action_space)
    if noise is not None:
        values["action_noise"] = noise
    try:
        model = ALGORITHM_CLASSES[algo](policy, env, seed=seed, device=device, verbose=0, **values)
    except (ValueError, TypeError, AssertionError) as error:  # SB3 checks its arguments with asserts too
        raise RunError(f"{algo}: Stable-Baselines3 refused the hyperparameters {hyperparams}: {error}") from error
    # SB3's default logger creates an empty SB3-<time> folder in the temp dir; a run writes nothing outside --out
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


# ---- the policy: predict, tensors, metadata, and back ----


class SB3Policy:
    """An SB3 policy network with our policy interface; ``predict`` is SB3's, actions cast to the contract's dtypes."""

    def __init__(self, policy: BasePolicy, metadata: dict[str, str | int | float | bool]) -> None:
        self.policy = policy
        self._metadata = dict(metadata)
        self.continuous = isinstance(policy.action_space, spaces.Box)

    def predict(self, observation: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
        """(4,) -> one action ((1,) float32 or 0-d int64); (N, 4) -> (N, 1) float32 or (N,) int64."""
        obs = np.asarray(observation, dtype=np.float32)
        actions, _ = self.policy.predict(obs, deterministic=deterministic)
        return np.asarray(actions, dtype=np.float32 if self.continuous else np.int64), None

    def tensors(self) -> dict[str, torch.Tensor]:
        # clone: safetensors refuses tensors that share memory, and the live network keeps training
        return {name: tensor.detach().to("cpu").clone() for name, tensor in self.policy.state_dict().items()}

    def metadata(self) -> dict[str, str | int | float | bool]:
        return dict(self._metadata)

    def __deepcopy__(self, memo: dict[int, Any]) -> SB3Policy:
        """A frozen copy (the monitor keeps one as the best policy), rebuilt from the tensors as a checkpoint is: a
        gSDE policy holds sampled exploration matrices that are not graph leaves, which ``copy.deepcopy`` refuses."""
        return policy_from_checkpoint(self.tensors(), self.metadata())


def policy_metadata(algo: str, env_id: str, model: BaseAlgorithm, hyperparams: dict[str, Any]) -> dict[str, Any]:
    """What ``policy_from_checkpoint`` needs to rebuild ``model.policy``: JSON only (nested values as strings)."""
    return {
        "kind": CHECKPOINT_KIND,
        "algo": algo,
        "env_id": env_id,
        "policy": hyperparams["policy"],
        "policy_kwargs": json.dumps(hyperparams.get("policy_kwargs") or {}, sort_keys=True),
        "use_sde": bool(getattr(model, "use_sde", False)),
        "observation_space": json.dumps(encode_space(model.observation_space)),
        "action_space": json.dumps(encode_space(model.action_space)),
        "hyperparams": json.dumps(hyperparams, sort_keys=True),
    }


def policy_from_checkpoint(tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> SB3Policy:
    """Construct the SB3 policy the metadata describes and load ``tensors`` into it (strict: names and shapes)."""
    algo = metadata.get("algo")
    if metadata.get("kind") != CHECKPOINT_KIND or algo not in ALGORITHM_CLASSES:
        raise ValueError(f"not a Stable-Baselines3 policy checkpoint (kind {metadata.get('kind')!r}, algo {algo!r})")
    aliases = ALGORITHM_CLASSES[algo].policy_aliases
    if metadata.get("policy") not in aliases:
        raise ValueError(f"policy {metadata.get('policy')!r} is not one of {algo}'s: {', '.join(aliases)}")
    kwargs = decode_policy_kwargs(_nested_json(metadata, "policy_kwargs"))
    if algo in TAKES_LR_SCHEDULE:
        kwargs["lr_schedule"] = ConstantSchedule(0.0)  # only the optimizer uses it, and it is never stepped
    if algo in TAKES_USE_SDE:
        kwargs["use_sde"] = bool(metadata["use_sde"])
    observation_space = decode_space(_nested_json(metadata, "observation_space"))
    action_space = decode_space(_nested_json(metadata, "action_space"))
    check_sizes_against_tensors(kwargs, observation_space, action_space, tensors)
    policy = aliases[metadata["policy"]](observation_space, action_space, **kwargs)
    policy.load_state_dict(tensors, strict=True)
    policy.set_training_mode(False)
    return SB3Policy(policy, metadata)


def _nested_json(metadata: dict[str, Any], key: str) -> Any:
    """A metadata value stored as JSON text, bounded in depth like the metadata itself; ``FileRefused`` (a
    ``ValueError``, which the loader reports as a bad checkpoint) otherwise."""
    text = metadata[key]
    if not isinstance(text, str):
        raise ValueError(f"metadata {key} is not JSON text")
    return parse_json(text, f"metadata {key}", max_depth=MAX_METADATA_DEPTH)


MAX_CRITICS = 10
SB3_DEFAULT_WIDTHS = (64, 256, 300, 400)  # the hidden widths SB3 builds when net_arch is not given


def check_sizes_against_tensors(
    policy_kwargs: dict[str, Any], observation_space: gym.Space, action_space: gym.Space, tensors: dict[str, Any]
) -> None:
    """Every layer the metadata asks for must be a weight the file holds, checked before any network is built.

    So the network costs what the checkpoint weighs: a ``net_arch`` of [10000] * 3 over 64-unit tensors is refused
    here instead of allocating and initialising gigabytes.
    """
    shapes = {tuple(tensor.shape) for tensor in tensors.values() if tensor.ndim == 2}  # (out, in) of Linear layers
    features = int(np.prod(observation_space.shape))
    action_size = int(action_space.n) if isinstance(action_space, spaces.Discrete) else int(np.prod(action_space.shape))
    chains = net_arch_chains(policy_kwargs.get("net_arch"))
    for chain in chains:
        if not any((chain[0], inputs) in shapes for inputs in (features, features + action_size)):
            raise ValueError(f"net_arch {chain}: no weight of shape ({chain[0]}, {features}) in the checkpoint")
        for inputs, outputs in itertools.pairwise(chain):
            if (outputs, inputs) not in shapes:
                raise ValueError(f"net_arch {chain}: no weight of shape ({outputs}, {inputs}) in the checkpoint")
    heads = {chain[-1] for chain in chains} | {features, *SB3_DEFAULT_WIDTHS}
    if not any((action_size, inputs) in shapes for inputs in heads):
        raise ValueError(f"action space {action_space} does not match any output layer in the checkpoint")
    critics = policy_kwargs.get("n_critics", 1)
    if isinstance(critics, bool) or not isinstance(critics, int) or not 1 <= critics <= MAX_CRITICS:
        raise ValueError(f"policy_kwargs.n_critics must be an integer in 1..{MAX_CRITICS}, got {critics!r}")


def encode_space(space: gym.Space) -> dict[str, Any]:
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "low": [_encode_float(value) for value in space.low.ravel().tolist()],
            "high": [_encode_float(value) for value in space.high.ravel().tolist()],
            "shape": list(space.shape),
            "dtype": str(space.dtype),
        }
    raise TypeError(f"cannot store a {type(space).__name__} space in a checkpoint (only Box and Discrete)")


def decode_space(data: dict[str, Any]) -> gym.Space:
    if data.get("type") == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data["start"]))
    if data.get("type") == "Box":
        shape = tuple(int(size) for size in data["shape"])
        dtype = np.dtype(data["dtype"])
        low = np.array([float(value) for value in data["low"]], dtype=dtype).reshape(shape)
        high = np.array([float(value) for value in data["high"]], dtype=dtype).reshape(shape)
        return spaces.Box(low, high, shape, dtype)
    raise ValueError(f"unknown space in checkpoint metadata: {data!r}")


def _encode_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no inf; float("inf") reads "inf" back


# ---- training ----


class _TensorBoardScalars(KVWriter):
    """SB3's logger output into our ``SummaryWriter``: its numbers as scalars at SB3's step (env steps)."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        for key, value in key_values.items():
            excluded = key_excluded.get(key) or ()
            if key in tensorboard.MONITOR_TIME_TAGS:  # the monitor writes these, over the whole run
                continue
            if "tensorboard" not in excluded and isinstance(value, (int, float, np.number)):
                self.writer.add_scalar(key, float(value), step)

    def close(self) -> None:
        """The writer belongs to the run, which closes it."""


class _StopTraining(Exception):
    """Raised by the callback when the monitor says stop; sb3-contrib's ARS ignores a callback returning False."""


class _MonitorCallback(BaseCallback):
    def __init__(self, monitor: TrainingMonitor, policy: SB3Policy) -> None:
        super().__init__(verbose=0)
        self.monitor = monitor
        self.policy = policy

    def _on_step(self) -> bool:
        if self.monitor.update(self.model.num_timesteps, self.policy):
            raise _StopTraining
        return True


def train(config: SB3Config, monitor: TrainingMonitor | None = None) -> TrainResult:
    algo = config.ALGO
    device = resolve_device(config.device)
    env_id = registered_id(config.env_id)
    check_env_for_training(env_id)
    if monitor is None:
        monitor = TrainingMonitor.from_config(config)
    hyperparams = config.sb3_hyperparams
    n_envs = int(hyperparams.get("n_envs", 1))
    envs = make_vec_env(env_id, n_envs=n_envs, seed=config.seed, env_kwargs=randomize_kwargs(config) or None)
    try:
        model = build_model(algo, hyperparams, envs, config.seed, device)
        if monitor.scalars is not None:  # SB3's own statistics go to the run's TensorBoard writer too
            model.set_logger(Logger(folder=None, output_formats=[_TensorBoardScalars(monitor.scalars)]))
        policy = SB3Policy(model.policy, policy_metadata(algo, env_id, model, hyperparams))
        with contextlib.suppress(_StopTraining):  # the monitor said stop: solved, or the budget is spent
            model.learn(total_timesteps=config.total_steps, callback=_MonitorCallback(monitor, policy))
    finally:
        envs.close()
    return monitor.finish(policy)


def check_env(env_id: str) -> None:
    """The registry's pre-flight hook: the CLI runs the gate before it creates the run directory."""
    check_env_for_training(registered_id(env_id))
