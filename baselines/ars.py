"""Augmented Random Search (Mania, Guy & Recht 2018, arXiv 1803.07055) with a linear policy, on torch.

Each iteration samples ``n_directions`` (N) directions delta ~ N(0, I) of the weight matrix M, rolls out the 2N
policies M +- nu * delta together in ONE ``TorchCartPoleVectorEnv`` (``episodes_per_direction`` sub-envs per
perturbed policy, every sub-env playing one whole episode), and updates

    M += alpha / (b * sigma_R) * sum over the top-b directions of (r+ - r-) * delta

where the top b directions are those with the largest max(r+, r-) and sigma_R is the standard deviation of the 2b
returns used. When those returns are all equal (all 500, or all failing at once) sigma_R is 0: the iteration then
makes no update instead of dividing by zero.

Variants: V1 = ``normalize_states=False, top_b=None``; V1-t = ``normalize_states=False, top_b=b``; V2 = ``True,
None``; V2-t (the default) = ``True, b``. V2 whitens every state with the mean and standard deviation of all states
seen in earlier iterations; they are frozen during an iteration, updated after it, and stored with the policy.

Actions: the policy's output is ``M @ whitened_state`` (no bias, as in the paper). The continuous env takes that
output clipped to [-1, 1]; the discrete env takes 1 (push right) where the output is > 0, else 0. One output row
and its sign is the two-action argmax with the difference of the two rows as weights, so the search explores 4
parameters instead of 8, half of which the argmax ignores.

The course notebook's update ``M += alpha_nb / std(all 2N returns) * sum((r+ - r-) * d)`` with d ~ N(0, eps) is
V1 with nu = eps: since d = nu * delta, alpha_paper / N = alpha_nb * nu, i.e. ``alpha_paper = alpha_notebook * nu *
N``. Its hyperparameters (eps 0.1, alpha 1.0, 10 directions) are therefore ``ARSConfig(env_id,
n_directions=10, top_b=None, noise_std=0.1, step_size=1.0 * 0.1 * 10, normalize_states=False)``, or
``ARSConfig.notebook(env_id)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from baselines.configs import ARSConfig, randomize_kwargs
from baselines.devices import resolve_device
from baselines.training import TrainingMonitor, TrainResult
from continuous_cartpole.registration import registered_id
from continuous_cartpole.torch_vector import TorchCartPoleVectorEnv, make_torch_vector_env

ALGO = "ars"
OBS_DIM = 4
ALIVE_CHECK_EVERY = 8  # rollout steps between the host reads that stop a rollout once every episode has ended
MIN_STD = 1e-8  # below this a return spread or a state coordinate's spread counts as zero


def linear_actions(weights: torch.Tensor, whitened: torch.Tensor, continuous: bool) -> torch.Tensor:
    """Actions of linear policies: ``weights`` (E, 1, 4) or (1, 1, 4), ``whitened`` states (E, 4).

    Returns (E, 1) float32 in [-1, 1] (continuous) or (E,) int64 in {0, 1} (discrete, 1 where the output is > 0).
    """
    output = (weights * whitened.unsqueeze(1)).sum(-1)  # (E, 1)
    if continuous:
        return output.clamp(-1.0, 1.0).to(torch.float32)
    return (output[:, 0] > 0).to(torch.int64)


class LinearPolicy:
    """A trained ARS policy: action = f(M @ (obs - obs_mean) / obs_std), f as in the module docstring."""

    def __init__(
        self, weights: torch.Tensor, obs_mean: torch.Tensor, obs_std: torch.Tensor, continuous: bool, env_id: str
    ) -> None:
        if weights.shape != (1, OBS_DIM) or obs_mean.shape != (OBS_DIM,) or obs_std.shape != (OBS_DIM,):
            raise ValueError(
                f"ARS policy tensors must be weights (1, 4), obs_mean (4,), obs_std (4,); got "
                f"{tuple(weights.shape)}, {tuple(obs_mean.shape)}, {tuple(obs_std.shape)}"
            )
        self.weights = weights.to(torch.float32)
        self.obs_mean = obs_mean.to(device=weights.device, dtype=torch.float32)
        self.obs_std = obs_std.to(device=weights.device, dtype=torch.float32)
        self.continuous = bool(continuous)
        self.env_id = env_id
        self.device = weights.device

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions for a batch of observations (B, 4) on the policy's device."""
        return linear_actions(self.weights.unsqueeze(0), (obs - self.obs_mean) / self.obs_std, self.continuous)

    def predict(self, observation: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
        """SB3's signature; the policy is deterministic. (4,) -> one action, (B, 4) -> a batch of actions."""
        obs = np.asarray(observation, dtype=np.float32)
        if obs.shape[-1:] != (OBS_DIM,) or obs.ndim not in (1, 2):
            raise ValueError(f"observation must have shape (4,) or (batch, 4), got {obs.shape}")
        with torch.inference_mode():
            actions = self.act(torch.as_tensor(obs.reshape(-1, OBS_DIM), device=self.device)).cpu().numpy()
        return (actions.reshape(actions.shape[1:]) if obs.ndim == 1 else actions), None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            name: tensor.detach().to("cpu", copy=True).contiguous()
            for name, tensor in (("weights", self.weights), ("obs_mean", self.obs_mean), ("obs_std", self.obs_std))
        }

    def metadata(self) -> dict[str, str | int | float | bool]:
        return {"algo": ALGO, "policy": "linear", "env_id": self.env_id, "continuous": self.continuous}


def policy_from_checkpoint(
    tensors: dict[str, torch.Tensor], metadata: dict[str, Any], device: str | torch.device = "cpu"
) -> LinearPolicy:
    """Rebuild a ``LinearPolicy`` from ``tensors()`` and ``metadata()``; anything inconsistent raises ValueError."""
    if metadata.get("algo") != ALGO or metadata.get("policy") != "linear":
        raise ValueError(f"not an ARS linear policy: metadata algo={metadata.get('algo')!r}")
    if not isinstance(metadata.get("continuous"), bool) or not isinstance(metadata.get("env_id"), str):
        raise ValueError("ARS policy metadata needs 'continuous' (bool) and 'env_id' (str)")
    missing = {"weights", "obs_mean", "obs_std"} - set(tensors)
    if missing:
        raise ValueError(f"ARS checkpoint lacks tensors {sorted(missing)}")
    for name in ("weights", "obs_mean", "obs_std"):
        tensor = tensors[name]
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise ValueError(f"ARS checkpoint tensor {name!r} must be a floating-point tensor")
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"ARS checkpoint tensor {name!r} holds NaN or infinite values")
    if bool((tensors["obs_std"] <= 0).any()):
        raise ValueError("ARS checkpoint tensor 'obs_std' must be positive")
    device = torch.device(device)
    return LinearPolicy(
        tensors["weights"].to(device),
        tensors["obs_mean"].to(device),
        tensors["obs_std"].to(device),
        metadata["continuous"],
        metadata["env_id"],
    )


class RunningStateStats:
    """Mean and standard deviation of every state seen, merged batch by batch (Chan et al.), float64 on device."""

    def __init__(self, device: torch.device) -> None:
        self.count = torch.zeros((), dtype=torch.float64, device=device)
        self.mean = torch.zeros(OBS_DIM, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(OBS_DIM, dtype=torch.float64, device=device)  # sum of squared deviations

    def merge(self, count: torch.Tensor, total: torch.Tensor, total_sq: torch.Tensor) -> None:
        """Add a batch given as its count, sum and sum of squares (computed on device, no host read)."""
        batch_mean = total / count.clamp(min=1)
        batch_m2 = (total_sq - count * batch_mean**2).clamp(min=0)
        new_count = self.count + count
        delta = batch_mean - self.mean
        weight = count / new_count.clamp(min=1)
        self.mean = self.mean + delta * weight
        self.m2 = self.m2 + batch_m2 + delta**2 * self.count * weight
        self.count = new_count

    def frozen(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) as float32 for whitening; identity until two states were seen, std 1 where it is ~0."""
        std = (self.m2 / (self.count - 1).clamp(min=1)).sqrt()
        enough = self.count >= 2
        mean = torch.where(enough, self.mean, 0.0)
        std = torch.where(enough & (std > MIN_STD), std, 1.0)
        return mean.to(torch.float32), std.to(torch.float32)


def ars_update(
    weights: torch.Tensor,
    deltas: torch.Tensor,
    returns_pos: torch.Tensor,
    returns_neg: torch.Tensor,
    step_size: float,
    top_b: int,
) -> tuple[torch.Tensor, bool]:
    """One ARS step: the new weights, and False (weights unchanged) when the returns used are all equal."""
    best = torch.topk(torch.maximum(returns_pos, returns_neg), top_b).indices
    used = torch.cat([returns_pos[best], returns_neg[best]])
    sigma = used.std(correction=0)
    if not float(sigma) > MIN_STD:  # also catches NaN returns
        return weights, False
    differences = (returns_pos[best] - returns_neg[best]).to(weights.dtype)
    step = (differences.view(-1, 1, 1) * deltas[best]).sum(0)
    return weights + step_size / (top_b * float(sigma)) * step, True


def rollout(
    envs: TorchCartPoleVectorEnv,
    weights: torch.Tensor,
    obs_mean: torch.Tensor,
    obs_std: torch.Tensor,
    stats: RunningStateStats | None,
) -> tuple[torch.Tensor, int]:
    """One episode per sub-env with per-sub-env weights (E, 1, 4): the returns (E,) and the env steps taken.

    States seen while an episode runs are added to ``stats`` (when given) after the rollout.
    """
    num_envs, device = envs.num_envs, envs.device
    obs, _ = envs.reset()
    returns = torch.zeros(num_envs, dtype=torch.float32, device=device)
    lengths = torch.zeros(num_envs, dtype=torch.int64, device=device)
    alive = torch.ones(num_envs, dtype=torch.bool, device=device)
    state_count = torch.zeros((), dtype=torch.float64, device=device)
    state_sum = torch.zeros(OBS_DIM, dtype=torch.float64, device=device)
    state_sum_sq = torch.zeros(OBS_DIM, dtype=torch.float64, device=device)
    for step in range(envs.max_episode_steps):
        if stats is not None:
            seen = obs.to(torch.float64) * alive.unsqueeze(1)
            state_count += alive.sum()
            state_sum += seen.sum(0)
            state_sum_sq += (seen * seen).sum(0)
        actions = linear_actions(weights, (obs - obs_mean) / obs_std, envs.continuous)
        obs, reward, terminated, truncated, _ = envs.step(actions)
        returns += reward * alive
        lengths += alive
        alive = alive & ~(terminated | truncated)
        if step % ALIVE_CHECK_EVERY == ALIVE_CHECK_EVERY - 1 and not bool(alive.any()):
            break
    if stats is not None:
        stats.merge(state_count, state_sum, state_sum_sq)
    return returns, int(lengths.sum())


def _statistics(returns: torch.Tensor, step: torch.Tensor) -> dict[str, float]:
    """What TensorBoard shows of one iteration: the perturbed policies' returns and the size of the update."""
    return {
        "ars/return_mean": float(returns.mean()),
        "ars/return_std": float(returns.std(correction=0)),
        "ars/step_norm": float(step.norm()),
    }


def train(config: ARSConfig, monitor: TrainingMonitor | None = None) -> TrainResult:
    device = resolve_device(config.device)
    env_id = registered_id(config.env_id)
    n, k = config.n_directions, config.episodes_per_direction
    top_b = config.top_b or n
    envs = make_torch_vector_env(env_id, 2 * n * k, device=device, validate_actions=False, **randomize_kwargs(config))
    env_seed, noise_seed = np.random.SeedSequence(config.seed).generate_state(2)
    envs.reset(seed=int(env_seed))  # later resets continue this seeded stream
    noise = torch.Generator(device=device).manual_seed(int(noise_seed))

    weights = torch.zeros((1, OBS_DIM), dtype=torch.float32, device=device)
    stats = RunningStateStats(device) if config.normalize_states else None
    obs_mean = torch.zeros(OBS_DIM, dtype=torch.float32, device=device)
    obs_std = torch.ones(OBS_DIM, dtype=torch.float32, device=device)
    policy = LinearPolicy(weights, obs_mean, obs_std, envs.continuous, env_id)
    if monitor is None:
        monitor = TrainingMonitor.from_config(config)
    env_steps = 0
    while True:
        deltas = torch.randn((n, 1, OBS_DIM), generator=noise, device=device)
        perturbed = torch.cat([weights + config.noise_std * deltas, weights - config.noise_std * deltas])
        returns, steps = rollout(envs, perturbed.repeat_interleave(k, dim=0), obs_mean, obs_std, stats)
        env_steps += steps
        returns_pos, returns_neg = returns.view(2, n, k).mean(-1)
        previous = weights
        weights, _ = ars_update(weights, deltas, returns_pos, returns_neg, config.step_size, top_b)
        if stats is not None:  # the next iteration whitens with the statistics including this one's states
            obs_mean, obs_std = stats.frozen()
        policy = LinearPolicy(weights, obs_mean, obs_std, envs.continuous, env_id)
        statistics = _statistics(returns, weights - previous) if monitor.records_statistics else None
        if monitor.update(env_steps, policy, statistics):
            break
    envs.close()
    return monitor.finish(policy)
