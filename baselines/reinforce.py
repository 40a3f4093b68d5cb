"""REINFORCE (Williams 1992) on the batched torch cart-pole: Monte Carlo policy gradient with normalised returns.

Each update plays ``episodes_per_update`` episodes side by side in one ``TorchCartPoleVectorEnv`` (one sub-env per
episode, all on the training device), computes the discounted reward-to-go G_t of every step, normalises the G_t of
the whole batch to zero mean and unit standard deviation (as both course notebooks do), and takes one Adam step on

    loss = -mean over steps of log pi(a_t | s_t) * G_t_normalised - entropy_coef * mean entropy

Policies:
- discrete env: categorical policy, an MLP D -> ``hidden_size`` ReLU -> one logit per action -> softmax (the Kokoyi
  notebook's 128-unit net; D = 4 observations and 2 actions on balance, 5 and 3 on the swing-up); deterministic
  action = argmax.
- continuous env, default: Gaussian policy whose mean is the same kind of MLP (one output) and whose log standard
  deviation is a learned parameter independent of the state. This improves on the notebook's sigmoid standard
  deviation, which is capped at 1 and whose gradient vanishes as the sigmoid saturates; a free log-std can shrink
  smoothly as the policy sharpens. Deterministic action = the mean.
- continuous env, ``notebook_linear=True``: the notebook's net, one linear layer D -> 2 giving the mean and
  sigmoid(second output) as the standard deviation.
Continuous actions are sampled unclipped (the log-probability is that of the sampled value); the env clips them to
[-1, 1], and ``predict`` returns the clipped value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.configs import ReinforceConfig, randomize_kwargs
from baselines.devices import resolve_device
from baselines.training import TrainingDiverged, TrainingMonitor, TrainResult
from continuous_cartpole.registration import registered_id
from continuous_cartpole.torch_vector import TorchCartPoleVectorEnv, make_torch_vector_env

ALGO = "reinforce"
ALIVE_CHECK_EVERY = 8  # rollout steps between the host reads that stop a rollout once every episode has ended
DISCRETE_ACTIONS = (2, 3)  # balance: push left or right; swing-up: push left, no force, push right
MAX_OBS_DIM = 64  # far above the cart-pole's 4 or 5: a checkpoint claiming more is not one of ours


class ReinforcePolicy(nn.Module):
    """Categorical (discrete) or Gaussian (continuous) policy over the cart-pole's observation."""

    def __init__(
        self,
        env_id: str,
        continuous: bool,
        hidden_size: int = 128,
        notebook_linear: bool = False,
        init_log_std: float = 0.0,
        obs_dim: int = 4,
        discrete_actions: int = 2,
    ) -> None:
        super().__init__()
        if notebook_linear and not continuous:
            raise ValueError(f"notebook_linear is an option of the continuous policy; {env_id} is discrete")
        self.env_id = env_id
        self.continuous = bool(continuous)
        self.hidden_size = int(hidden_size)
        self.notebook_linear = bool(notebook_linear)
        self.obs_dim = int(obs_dim)
        self.discrete_actions = int(discrete_actions)
        if self.notebook_linear:
            self.net: nn.Module = nn.Linear(self.obs_dim, 2)  # mean and pre-sigmoid standard deviation
        else:
            outputs = 1 if self.continuous else self.discrete_actions
            self.net = nn.Sequential(nn.Linear(self.obs_dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, outputs))
        if self.continuous and not self.notebook_linear:
            self.log_std = nn.Parameter(torch.full((1,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B, actions), None) for discrete; (mean (B, 1), std (B, 1) or (1,)) for continuous."""
        out = self.net(obs)
        if not self.continuous:
            return out, None
        if self.notebook_linear:
            return out[:, :1], torch.sigmoid(out[:, 1:])
        return out, self.log_std.exp()

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Stochastic actions, (B, 1) float32 or (B,) int64, drawn from ``generator`` without host reads."""
        params, std = self(obs)
        if self.continuous:
            assert std is not None
            noise = torch.randn(params.shape, generator=generator, device=obs.device, dtype=params.dtype)
            return params + std * noise
        cumulative = torch.softmax(params, dim=-1).cumsum(-1)[:, :-1]
        uniform = torch.rand((obs.shape[0], 1), generator=generator, device=obs.device, dtype=params.dtype)
        return (uniform > cumulative).sum(-1)  # inverse CDF: the first action whose cumulative probability > u

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        params, _ = self(obs)
        return params.clamp(-1.0, 1.0) if self.continuous else params.argmax(-1)

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities and entropies, both (B,), of the given actions."""
        params, std = self(obs)
        if self.continuous:
            assert std is not None
            # no argument validation: a NaN mean must reach the loss, where training stops with a clear error
            dist = torch.distributions.Normal(params, std.expand_as(params), validate_args=False)
            return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1)
        log_probs = torch.log_softmax(params, dim=-1)
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        return log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1), entropy

    def predict(self, observation: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
        """SB3's signature: (D,) -> one action ((1,) float32 or 0-d int64), (B, D) -> a batch of actions."""
        obs = np.asarray(observation, dtype=np.float32)
        dim = self.obs_dim
        if obs.shape[-1:] != (dim,) or obs.ndim not in (1, 2):
            raise ValueError(f"observation must have shape ({dim},) or (batch, {dim}), got {obs.shape}")
        device = next(self.parameters()).device
        with torch.inference_mode():
            batch = torch.as_tensor(obs.reshape(-1, dim), device=device)
            actions = self.deterministic(batch) if deterministic else self.sample(batch)
            if self.continuous:
                actions = actions.clamp(-1.0, 1.0).to(torch.float32)
            actions = actions.cpu().numpy()
        return (actions.reshape(actions.shape[1:]) if obs.ndim == 1 else actions), None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: tensor.detach().to("cpu", copy=True).contiguous() for name, tensor in self.state_dict().items()}

    def metadata(self) -> dict[str, str | int | float | bool]:
        return {
            "algo": ALGO,
            "policy": "notebook_linear" if self.notebook_linear else "mlp",
            "env_id": self.env_id,
            "continuous": self.continuous,
            "hidden_size": self.hidden_size,
        }


def policy_from_checkpoint(
    tensors: dict[str, torch.Tensor], metadata: dict[str, Any], device: str | torch.device = "cpu"
) -> ReinforcePolicy:
    """Rebuild a ``ReinforcePolicy`` from ``tensors()`` and ``metadata()``; anything inconsistent raises ValueError."""
    if metadata.get("algo") != ALGO or metadata.get("policy") not in ("mlp", "notebook_linear"):
        raise ValueError(f"not a REINFORCE policy: metadata algo={metadata.get('algo')!r}")
    hidden_size = metadata.get("hidden_size")
    if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
        raise ValueError(f"REINFORCE policy metadata 'hidden_size' must be a positive integer, got {hidden_size!r}")
    if not isinstance(metadata.get("continuous"), bool) or not isinstance(metadata.get("env_id"), str):
        raise ValueError("REINFORCE policy metadata needs 'continuous' (bool) and 'env_id' (str)")
    linear = metadata["policy"] == "notebook_linear"
    first_layer = tensors.get("net.weight" if linear else "net.0.weight")
    last_layer = tensors.get("net.2.weight")
    # Before building: the network's size must be the one the file holds, not what the metadata claims.
    if not linear and (first_layer is None or first_layer.ndim != 2 or first_layer.shape[:1] != (hidden_size,)):
        shape = None if first_layer is None else tuple(first_layer.shape)
        raise ValueError(f"REINFORCE metadata hidden_size {hidden_size} does not match tensor net.0.weight {shape}")
    if first_layer is None or first_layer.ndim != 2 or not 1 <= first_layer.shape[1] <= MAX_OBS_DIM:
        raise ValueError("REINFORCE checkpoint lacks a first layer whose inputs are the observation")
    # The observation size and a discrete policy's action count are the layers' own sizes (files from before the
    # swing-up: 4 and 2, as they hold).
    discrete_actions = 2
    if not linear and not metadata["continuous"]:
        if last_layer is None or last_layer.ndim != 2 or last_layer.shape[0] not in DISCRETE_ACTIONS:
            raise ValueError("REINFORCE discrete checkpoint's net.2.weight must have 2 or 3 rows (one per action)")
        discrete_actions = int(last_layer.shape[0])
    policy = ReinforcePolicy(
        metadata["env_id"],
        metadata["continuous"],
        hidden_size,
        linear,
        obs_dim=int(first_layer.shape[1]),
        discrete_actions=discrete_actions,
    )
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise ValueError(f"REINFORCE checkpoint tensor {name!r} must be a floating-point tensor")
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"REINFORCE checkpoint tensor {name!r} holds NaN or infinite values")
    try:
        policy.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise ValueError(f"REINFORCE checkpoint tensors do not fit the policy in its metadata: {error}") from error
    return policy.to(device).eval()


def reward_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted sum of the rewards from each step on, along dim 0 (time); rewards (T, E) are 0 after episode ends."""
    returns = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def collect_episodes(
    envs: TorchCartPoleVectorEnv, policy: ReinforcePolicy, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One episode per sub-env: observations (T, E, D), actions, rewards (T, E) and alive masks (T, E)."""
    max_steps, num_envs, device = envs.max_episode_steps, envs.num_envs, envs.device
    obs_buffer = torch.zeros((max_steps, num_envs, policy.obs_dim), device=device)
    action_shape = (max_steps, num_envs, 1) if envs.continuous else (max_steps, num_envs)
    action_buffer = torch.zeros(action_shape, dtype=torch.float32 if envs.continuous else torch.int64, device=device)
    reward_buffer = torch.zeros((max_steps, num_envs), device=device)
    alive_buffer = torch.zeros((max_steps, num_envs), dtype=torch.bool, device=device)
    obs, _ = envs.reset()
    alive = torch.ones(num_envs, dtype=torch.bool, device=device)
    steps = max_steps
    with torch.no_grad():
        for t in range(max_steps):
            actions = policy.sample(obs, generator)
            obs_buffer[t], action_buffer[t], alive_buffer[t] = obs, actions, alive
            obs, reward, terminated, truncated, _ = envs.step(actions)
            reward_buffer[t] = reward * alive
            alive = alive & ~(terminated | truncated)
            if t % ALIVE_CHECK_EVERY == ALIVE_CHECK_EVERY - 1 and not bool(alive.any()):
                steps = t + 1
                break
    return obs_buffer[:steps], action_buffer[:steps], reward_buffer[:steps], alive_buffer[:steps]


def _statistics(
    policy_loss: torch.Tensor, entropy: torch.Tensor, episode_returns: torch.Tensor, continuous: bool
) -> dict[str, float]:
    """What TensorBoard shows of one update; a Gaussian's entropy is 0.5 log(2 pi e) + log std, hence its std."""
    statistics = {
        "reinforce/loss": float(policy_loss.detach()),
        "reinforce/entropy": float(entropy.detach()),
        "reinforce/episode_return_mean": float(episode_returns.mean()),
    }
    if continuous:
        statistics["reinforce/policy_std"] = math.exp(float(entropy.detach()) - 0.5 * math.log(2 * math.pi * math.e))
    return statistics


def train(config: ReinforceConfig, monitor: TrainingMonitor | None = None) -> TrainResult:
    device = resolve_device(config.device)
    env_id = registered_id(config.env_id)
    envs = make_torch_vector_env(
        env_id, config.episodes_per_update, device=device, validate_actions=False, **randomize_kwargs(config)
    )
    if config.notebook_linear and not envs.continuous:
        raise ValueError(f"notebook_linear is an option of the continuous policy; {env_id} is discrete")
    init_seed, env_seed, sample_seed = np.random.SeedSequence(config.seed).generate_state(3)
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the global RNG
        torch.manual_seed(int(init_seed))
        policy = ReinforcePolicy(
            env_id,
            envs.continuous,
            config.hidden_size,
            config.notebook_linear,
            config.init_log_std,
            obs_dim=envs.single_observation_space.shape[0],
            discrete_actions=1 if envs.continuous else int(envs.single_action_space.n),
        ).to(device)
    envs.reset(seed=int(env_seed))  # later resets continue this seeded stream
    sampler = torch.Generator(device=device).manual_seed(int(sample_seed))
    # The first torch optimizer of a process imports torch._dynamo (about 2 s here): done before the clock starts.
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
    if monitor is None:
        monitor = TrainingMonitor.from_config(config)

    env_steps = 0
    while True:
        obs, actions, rewards, alive = collect_episodes(envs, policy, sampler)
        mask = alive.to(torch.float32)
        count = mask.sum()
        returns = reward_to_go(rewards, config.gamma)
        mean = (returns * mask).sum() / count
        std = (((returns - mean) * mask) ** 2).sum().div(count).sqrt()
        advantages = (returns - mean) / (std + 1e-8)

        log_probs, entropy = policy.log_prob_entropy(obs.flatten(0, 1), actions.flatten(0, 1))
        flat_mask = mask.flatten()
        policy_loss = -(log_probs * advantages.flatten() * flat_mask).sum() / count
        entropy_bonus = (entropy * flat_mask).sum() / count
        loss = policy_loss - config.entropy_coef * entropy_bonus
        if not bool(torch.isfinite(loss)):  # a NaN loss would turn every parameter into NaN without a word
            raise TrainingDiverged(
                f"training diverged by env step {env_steps}: the loss is {loss.item():g}; lower the learning rate"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        env_steps += int(count)
        statistics = None
        if monitor.records_statistics:
            statistics = _statistics(policy_loss, entropy_bonus, rewards.sum(0), envs.continuous)
        if monitor.update(env_steps, policy, statistics):
            break
    envs.close()
    return monitor.finish(policy)
