"""Augmented Random Search (Mania, Guy & Recht 2018, arXiv 1803.07055), linear or random-feature policy, on torch.

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

Actions: the policy's output is ``M @ features`` (no bias, as in the paper). The continuous env takes that output
clipped to [-1, 1]; the two-action discrete env takes 1 (push right) where the output is > 0, else 0. One output
row and its sign is the two-action argmax with the difference of the two rows as weights, so the search explores 4
parameters instead of 8, half of which the argmax ignores. The swing-up's three-action discrete env (push left,
no force, push right) takes the output clipped to [-1, 1] and rounded to the nearest force level.

Policies (``ARSConfig.policy``): ``"linear"`` (the default) reads the whitened state itself, as in the paper; it
balances, but a linear map of (x, x_dot, cos, sin, angle_dot) cannot both pump energy into a hanging pole and
balance it upright. ``"rff"`` reads ``features`` random Fourier features of the whitened state (``FeatureMap``;
Rajeswaran et al. 2017, "Towards Generalization and Simplicity in Continuous Control"): still a linear read-out
trained by the same update, of a fixed nonlinear map drawn from the run's seed.

The course notebook's update ``M += alpha_nb / std(all 2N returns) * sum((r+ - r-) * d)`` with d ~ N(0, eps) is
V1 with nu = eps: since d = nu * delta, alpha_paper / N = alpha_nb * nu, i.e. ``alpha_paper = alpha_notebook * nu *
N``. Its hyperparameters (eps 0.1, alpha 1.0, 10 directions) are therefore ``ARSConfig(env_id,
n_directions=10, top_b=None, noise_std=0.1, step_size=1.0 * 0.1 * 10, normalize_states=False)``, or
``ARSConfig.notebook(env_id)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from baselines.configs import ARS_POLICIES, ARSConfig, randomize_kwargs
from baselines.devices import resolve_device
from baselines.training import TrainingMonitor, TrainResult
from continuous_cartpole.registration import registered_id
from continuous_cartpole.torch_vector import TorchCartPoleVectorEnv, make_torch_vector_env

ALGO = "ars"
ALIVE_CHECK_EVERY = 8  # rollout steps between the host reads that stop a rollout once every episode has ended
MIN_STD = 1e-8  # below this a return spread or a state coordinate's spread counts as zero
DISCRETE_ACTIONS = (2, 3)  # balance: push left or right; swing-up: push left, no force, push right


def action_count(continuous: bool, discrete_actions: int) -> int:
    """``policy_actions``' third argument: 0 for a continuous env, else its number of discrete actions."""
    return 0 if continuous else discrete_actions


def actions_of(envs: TorchCartPoleVectorEnv) -> int:
    return 0 if envs.continuous else int(envs.single_action_space.n)


def policy_actions(weights: torch.Tensor, features: torch.Tensor, discrete_actions: int) -> torch.Tensor:
    """Actions of linear read-outs: ``weights`` (E, 1, F) or (1, 1, F), ``features`` (E, F).

    ``discrete_actions`` 0 (continuous): (E, 1) float32 in [-1, 1]; 2: (E,) int64, 1 where the output is > 0;
    3: (E,) int64 in {0, 1, 2}, the output clipped to [-1, 1], rounded and shifted by 1.
    """
    output = (weights * features.unsqueeze(1)).sum(-1)  # (E, 1)
    if discrete_actions == 0:
        return output.clamp(-1.0, 1.0).to(torch.float32)
    if discrete_actions == 2:
        return (output[:, 0] > 0).to(torch.int64)
    return output[:, 0].clamp(-1.0, 1.0).round().to(torch.int64) + 1


class FeatureMap:
    """What the read-out sees of a whitened state z: z itself (linear), or F random Fourier features (rff)
    sqrt(2 / F) sin(P z / bandwidth + phi) with P ~ N(0, I) and phi ~ U[-pi, pi) (Rajeswaran et al. 2017).

    Keeping z beside the Fourier features (the linear policy as a special case) was measured on the swing-up and
    learnt slower: seeds 0 and 1 reached returns of 470-530 after 19M steps, where the features alone reached 550
    and solved (seed 0 at 8.4M steps).

    The rff map is held as ``projection`` = P / bandwidth (F, D) and ``phase`` (F,): drawn once per run from the
    run's seed, saved with the policy, and all a checkpoint needs to rebuild the features. The sqrt(2 / F) factor
    gives the features a squared norm near 1 whatever F, so ``noise_std`` moves the output by about as much as it
    does for the linear policy.
    """

    def __init__(self, projection: torch.Tensor | None = None, phase: torch.Tensor | None = None) -> None:
        if (projection is None) != (phase is None):
            raise ValueError("random Fourier features need both a projection and a phase")
        if projection is not None and phase is not None:
            if projection.ndim != 2 or phase.shape != projection.shape[:1]:
                raise ValueError(
                    f"rff projection must be (F, D) and phase (F,), got {tuple(projection.shape)}, {tuple(phase.shape)}"
                )
            projection, phase = projection.to(torch.float32), phase.to(projection.device, torch.float32)
        self.projection, self.phase = projection, phase
        self.scale = None if projection is None else math.sqrt(2.0 / projection.shape[0])

    @classmethod
    def random(
        cls, features: int, obs_dim: int, bandwidth: float, generator: torch.Generator, device: torch.device
    ) -> FeatureMap:
        projection = torch.randn((features, obs_dim), generator=generator, device=device) / bandwidth
        phase = (torch.rand((features,), generator=generator, device=device) * 2 - 1) * math.pi
        return cls(projection, phase)

    @property
    def kind(self) -> str:
        return "linear" if self.projection is None else "rff"

    def size(self, obs_dim: int) -> int:
        return obs_dim if self.projection is None else self.projection.shape[0]

    def __call__(self, whitened: torch.Tensor) -> torch.Tensor:
        if self.projection is None:
            return whitened
        # A product and a sum rather than a matmul: each row's result then does not depend on the batch size (BLAS
        # picks other kernels for one row than for many), so one observation gets the bits it gets in a batch.
        angles = (whitened.unsqueeze(-2) * self.projection).sum(-1) + self.phase
        return torch.sin(angles) * self.scale

    def to(self, device: torch.device) -> FeatureMap:
        if self.projection is None or self.phase is None:
            return self
        return FeatureMap(self.projection.to(device), self.phase.to(device))

    def tensors(self) -> dict[str, torch.Tensor]:
        if self.projection is None or self.phase is None:
            return {}
        return {"projection": self.projection, "phase": self.phase}


class ARSPolicy:
    """A trained ARS policy: action = f(M @ features((obs - obs_mean) / obs_std)), f as in the module docstring."""

    def __init__(
        self,
        weights: torch.Tensor,
        obs_mean: torch.Tensor,
        obs_std: torch.Tensor,
        continuous: bool,
        env_id: str,
        feature_map: FeatureMap | None = None,
        discrete_actions: int = 2,
    ) -> None:
        feature_map = FeatureMap() if feature_map is None else feature_map
        obs_dim = obs_mean.shape[0] if obs_mean.ndim == 1 else -1
        if (
            obs_mean.ndim != 1
            or obs_std.shape != obs_mean.shape
            or weights.shape != (1, feature_map.size(obs_dim))
            or (feature_map.projection is not None and feature_map.projection.shape[1] != obs_dim)
        ):
            projection = None if feature_map.projection is None else tuple(feature_map.projection.shape)
            raise ValueError(
                f"ARS policy tensors must be weights (1, F), obs_mean (D,), obs_std (D,) and for rff projection "
                f"(F, D); got {tuple(weights.shape)}, {tuple(obs_mean.shape)}, {tuple(obs_std.shape)}, {projection}"
            )
        self.weights = weights.to(torch.float32)
        self.obs_mean = obs_mean.to(device=weights.device, dtype=torch.float32)
        self.obs_std = obs_std.to(device=weights.device, dtype=torch.float32)
        self.feature_map = feature_map.to(weights.device)
        self.obs_dim = obs_dim
        if discrete_actions not in DISCRETE_ACTIONS:
            raise ValueError(f"ARS discrete_actions must be 2 or 3, got {discrete_actions!r}")
        self.continuous = bool(continuous)
        self.discrete_actions = int(discrete_actions)
        self.env_id = env_id
        self.device = weights.device

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions for a batch of observations (B, D) on the policy's device."""
        features = self.feature_map((obs - self.obs_mean) / self.obs_std)
        return policy_actions(self.weights.unsqueeze(0), features, action_count(self.continuous, self.discrete_actions))

    def predict(self, observation: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
        """SB3's signature; the policy is deterministic. (D,) -> one action, (B, D) -> a batch of actions."""
        obs = np.asarray(observation, dtype=np.float32)
        if obs.shape[-1:] != (self.obs_dim,) or obs.ndim not in (1, 2):
            dim = self.obs_dim
            raise ValueError(f"observation must have shape ({dim},) or (batch, {dim}), got {obs.shape}")
        with torch.inference_mode():
            actions = self.act(torch.as_tensor(obs.reshape(-1, self.obs_dim), device=self.device)).cpu().numpy()
        return (actions.reshape(actions.shape[1:]) if obs.ndim == 1 else actions), None

    def tensors(self) -> dict[str, torch.Tensor]:
        named = {"weights": self.weights, "obs_mean": self.obs_mean, "obs_std": self.obs_std}
        named.update(self.feature_map.tensors())
        return {name: tensor.detach().to("cpu", copy=True).contiguous() for name, tensor in named.items()}

    def metadata(self) -> dict[str, str | int | float | bool]:
        metadata: dict[str, str | int | float | bool] = {
            "algo": ALGO,
            "policy": self.feature_map.kind,
            "env_id": self.env_id,
            "continuous": self.continuous,
        }
        if not self.continuous:
            metadata["discrete_actions"] = self.discrete_actions
        return metadata


def policy_from_checkpoint(
    tensors: dict[str, torch.Tensor], metadata: dict[str, Any], device: str | torch.device = "cpu"
) -> ARSPolicy:
    """Rebuild an ``ARSPolicy`` from ``tensors()`` and ``metadata()``; anything inconsistent raises ValueError."""
    kind = metadata.get("policy")
    if metadata.get("algo") != ALGO or kind not in ARS_POLICIES:
        raise ValueError(f"not an ARS policy: metadata algo={metadata.get('algo')!r}, policy={kind!r}")
    if not isinstance(metadata.get("continuous"), bool) or not isinstance(metadata.get("env_id"), str):
        raise ValueError("ARS policy metadata needs 'continuous' (bool) and 'env_id' (str)")
    discrete_actions = metadata.get("discrete_actions", 2)  # files from before the swing-up: two actions
    if type(discrete_actions) is not int or discrete_actions not in DISCRETE_ACTIONS:
        raise ValueError(f"ARS policy metadata 'discrete_actions' must be 2 or 3, got {discrete_actions!r}")
    names = ("weights", "obs_mean", "obs_std") + (("projection", "phase") if kind == "rff" else ())
    missing = set(names) - set(tensors)
    if missing:
        raise ValueError(f"ARS checkpoint lacks tensors {sorted(missing)}")
    extra = set(tensors) - set(names)
    if extra:
        raise ValueError(f"ARS {kind} checkpoint holds unexpected tensors {sorted(extra)}")
    for name in names:
        tensor = tensors[name]
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise ValueError(f"ARS checkpoint tensor {name!r} must be a floating-point tensor")
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"ARS checkpoint tensor {name!r} holds NaN or infinite values")
    if bool((tensors["obs_std"] <= 0).any()):
        raise ValueError("ARS checkpoint tensor 'obs_std' must be positive")
    device = torch.device(device)
    feature_map = FeatureMap(tensors["projection"], tensors["phase"]) if kind == "rff" else FeatureMap()
    return ARSPolicy(
        tensors["weights"].to(device),
        tensors["obs_mean"].to(device),
        tensors["obs_std"].to(device),
        metadata["continuous"],
        metadata["env_id"],
        feature_map.to(device),
        discrete_actions,
    )


class RunningStateStats:
    """Mean and standard deviation of every state seen, merged batch by batch (Chan et al.), float64 on device."""

    def __init__(self, device: torch.device, obs_dim: int) -> None:
        self.count = torch.zeros((), dtype=torch.float64, device=device)
        self.mean = torch.zeros(obs_dim, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(obs_dim, dtype=torch.float64, device=device)  # sum of squared deviations

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
    feature_map: FeatureMap | None = None,
) -> tuple[torch.Tensor, int]:
    """One episode per sub-env with per-sub-env weights (E, 1, F): the returns (E,) and the env steps taken.

    States seen while an episode runs are added to ``stats`` (when given) after the rollout.
    """
    num_envs, device = envs.num_envs, envs.device
    feature_map = FeatureMap() if feature_map is None else feature_map
    obs, _ = envs.reset()
    obs_dim = obs.shape[-1]
    returns = torch.zeros(num_envs, dtype=torch.float32, device=device)
    lengths = torch.zeros(num_envs, dtype=torch.int64, device=device)
    alive = torch.ones(num_envs, dtype=torch.bool, device=device)
    state_count = torch.zeros((), dtype=torch.float64, device=device)
    state_sum = torch.zeros(obs_dim, dtype=torch.float64, device=device)
    state_sum_sq = torch.zeros(obs_dim, dtype=torch.float64, device=device)
    for step in range(envs.max_episode_steps):
        if stats is not None:
            seen = obs.to(torch.float64) * alive.unsqueeze(1)
            state_count += alive.sum()
            state_sum += seen.sum(0)
            state_sum_sq += (seen * seen).sum(0)
        actions = policy_actions(weights, feature_map((obs - obs_mean) / obs_std), actions_of(envs))
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
    envs = make_torch_vector_env(
        env_id, 2 * n * k, device=device, validate_actions=False, compile=config.compile_env, **randomize_kwargs(config)
    )
    # the first two words are those of generate_state(2): linear runs draw what they drew before the rff option
    env_seed, noise_seed, feature_seed = np.random.SeedSequence(config.seed).generate_state(3)
    envs.reset(seed=int(env_seed))  # later resets continue this seeded stream
    noise = torch.Generator(device=device).manual_seed(int(noise_seed))
    obs_dim = envs.single_observation_space.shape[0]
    feature_map = FeatureMap()
    if config.policy == "rff":
        features = torch.Generator(device=device).manual_seed(int(feature_seed))
        feature_map = FeatureMap.random(config.features, obs_dim, config.bandwidth, features, device)

    weights = torch.zeros((1, feature_map.size(obs_dim)), dtype=torch.float32, device=device)
    stats = RunningStateStats(device, obs_dim) if config.normalize_states else None
    obs_mean = torch.zeros(obs_dim, dtype=torch.float32, device=device)
    obs_std = torch.ones(obs_dim, dtype=torch.float32, device=device)
    discrete_actions = max(actions_of(envs), 2)
    policy = ARSPolicy(weights, obs_mean, obs_std, envs.continuous, env_id, feature_map, discrete_actions)
    if monitor is None:
        monitor = TrainingMonitor.from_config(config)
    env_steps = 0
    while True:
        deltas = torch.randn((n, *weights.shape), generator=noise, device=device)
        perturbed = torch.cat([weights + config.noise_std * deltas, weights - config.noise_std * deltas])
        returns, steps = rollout(envs, perturbed.repeat_interleave(k, dim=0), obs_mean, obs_std, stats, feature_map)
        env_steps += steps
        returns_pos, returns_neg = returns.view(2, n, k).mean(-1)
        previous = weights
        weights, _ = ars_update(weights, deltas, returns_pos, returns_neg, config.step_size, top_b)
        if stats is not None:  # the next iteration whitens with the statistics including this one's states
            obs_mean, obs_std = stats.frozen()
        policy = ARSPolicy(weights, obs_mean, obs_std, envs.continuous, env_id, feature_map, discrete_actions)
        statistics = _statistics(returns, weights - previous) if monitor.records_statistics else None
        if monitor.update(env_steps, policy, statistics):
            break
    envs.close()
    return monitor.finish(policy)
