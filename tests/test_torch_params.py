"""Per-sub-env physics and domain randomization in the torch env, against the NumPy env."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

from continuous_cartpole import CartPoleVectorEnv
from continuous_cartpole.torch_vector import TorchCartPoleVectorEnv, make_torch_vector_env

AutoresetMode = gym.vector.AutoresetMode
RANDOMIZE = {"length": (0.25, 1.0), "masspole": (0.05, 0.5), "force_mag": (5.0, 15.0), "failure_reward": (-1.0, 0.0)}

torch.set_num_threads(1)


def varied_params(num_envs: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ranges = {"gravity": (5, 15), "masscart": (0.5, 2), "masspole": (0.05, 1), "length": (0.2, 2), "force_mag": (2, 20)}
    ranges |= {"tau": (0.01, 0.03), "theta_threshold_radians": (0.15, 0.4), "x_threshold": (1.5, 3)}
    ranges |= {"failure_reward": (-2, 1)}
    return {name: rng.uniform(low, high, num_envs) for name, (low, high) in ranges.items()}


@pytest.mark.parametrize("continuous", [True, False])
def test_per_sub_env_parameters_match_the_numpy_env_in_float64(continuous):
    num_envs = 24
    values = varied_params(num_envs)
    torch_env = TorchCartPoleVectorEnv(
        num_envs, continuous=continuous, dtype=torch.float64, max_episode_steps=30, **values
    )
    numpy_env = CartPoleVectorEnv(num_envs, continuous=continuous, dtype=np.float64, max_episode_steps=30, **values)
    assert torch_env.params == numpy_env.params and torch_env.observation_space == numpy_env.observation_space
    torch_env.reset(seed=3)
    numpy_env.reset(seed=3)
    numpy_env.state = torch_env.state.numpy().copy()
    rng = np.random.default_rng(0)
    largest, ends = 0.0, 0
    for _ in range(150):
        actions = rng.uniform(-1, 1, (num_envs, 1)).astype(np.float32) if continuous else rng.integers(0, 2, num_envs)
        restarted = numpy_env.prev_done.copy()
        _, reward_t, terminated_t, truncated_t, _ = torch_env.step(torch.as_tensor(actions))
        _, reward_n, terminated_n, truncated_n, _ = numpy_env.step(actions)
        np.testing.assert_array_equal(reward_t.numpy(), reward_n)
        np.testing.assert_array_equal(terminated_t.numpy(), terminated_n)
        np.testing.assert_array_equal(truncated_t.numpy(), truncated_n)
        live = ~restarted
        largest = max(largest, float(np.abs(torch_env.state.numpy()[:, live] - numpy_env.state[:, live]).max()))
        numpy_env.state[:, restarted] = torch_env.state.numpy()[:, restarted]
        ends += int((terminated_n | truncated_n).sum())
    assert ends > 2 * num_envs
    assert largest < 1e-12


def history(mode: AutoresetMode, seed: int, steps: int = 40) -> list[torch.Tensor]:
    envs = TorchCartPoleVectorEnv(8, autoreset_mode=mode, randomize=RANDOMIZE, max_episode_steps=15)
    envs.reset(seed=seed)
    generator = torch.Generator().manual_seed(0)
    seen = [torch.stack([envs._values[name] for name in RANDOMIZE])]
    for _ in range(steps):
        before = envs.params
        _, _, terminated, truncated, _ = envs.step(torch.rand((8, 1), generator=generator) * 2 - 1)
        if mode == AutoresetMode.DISABLED and (terminated | truncated).any():
            envs.reset(options={"reset_mask": terminated | truncated})
        restarted = (envs.steps == 0).numpy()
        after = envs.params
        for name, (low, high) in RANDOMIZE.items():
            now, then = getattr(after, name), getattr(before, name)
            assert np.array_equal(now[~restarted], then[~restarted]) and (now[restarted] != then[restarted]).all()
            assert (low <= now).all() and (now <= high).all()
        seen.append(torch.stack([envs._values[name] for name in RANDOMIZE]))
    return seen


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_randomized_physics_is_deterministic_under_a_seed_and_redrawn_at_each_reset_only(mode):
    first, again, other = history(mode, 5), history(mode, 5), history(mode, 6)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    assert sum(int((a != b).any(dim=0).sum()) for a, b in itertools.pairwise(first)) > 8


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("task", ["balance", "swingup"])
def test_the_randomized_physics_stepped_is_the_physics_reported(mode, task):
    """Each step of the randomized torch env equals one NumPy step with the values ``params`` reports."""
    envs = TorchCartPoleVectorEnv(16, task=task, dtype=torch.float64, autoreset_mode=mode, randomize=RANDOMIZE)
    numpy_env = CartPoleVectorEnv(16, task=task, randomize=RANDOMIZE)
    assert envs.single_observation_space == numpy_env.single_observation_space  # both over the ranges
    envs.reset(seed=1)
    rng = np.random.default_rng(2)
    for _ in range(40):
        reference = CartPoleVectorEnv(16, task=task, dtype=np.float64, autoreset_mode="Disabled")
        reference.params = envs.params
        reference.reset(seed=0)
        reference.state = envs.state.numpy().copy()
        restart = envs.prev_done.numpy().copy() if mode == AutoresetMode.NEXT_STEP else np.zeros(16, bool)
        actions = rng.uniform(-1, 1, (16, 1)).astype(np.float32)
        obs, reward, terminated, _, info = envs.step(torch.as_tensor(actions))
        obs_n, reward_n, terminated_n, _, _ = reference.step(actions)
        stepped = info["final_obs"].numpy() if mode == AutoresetMode.SAME_STEP else obs.numpy()
        assert envs.observation_space.contains(obs.numpy())
        np.testing.assert_allclose(stepped[~restart], obs_n[~restart], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(reward.numpy()[~restart], reward_n[~restart], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(terminated.numpy()[~restart], terminated_n[~restart])


def test_compiled_step_with_per_sub_env_and_randomized_parameters_matches_the_eager_step():
    kwargs = {"continuous": False, "randomize": RANDOMIZE, "gravity": np.linspace(5, 15, 64), "max_episode_steps": 20}
    eager = TorchCartPoleVectorEnv(64, **kwargs)
    fused = TorchCartPoleVectorEnv(64, compile=True, **kwargs)
    eager.reset(seed=0)
    fused.reset(seed=0)
    generator = torch.Generator().manual_seed(0)
    for _ in range(40):
        actions = torch.randint(0, 2, (64,), generator=generator)
        (obs_e, reward_e, *flags_e, _), (obs_f, reward_f, *flags_f, _) = eager.step(actions), fused.step(actions)
        torch.testing.assert_close(obs_f, obs_e)
        assert torch.equal(reward_e, reward_f) and all(torch.equal(a, b) for a, b in zip(flags_e, flags_f, strict=True))
    assert eager.params == fused.params


def test_blocks_take_their_slice_of_the_per_sub_env_parameters():
    kwargs = {"randomize": RANDOMIZE, "gravity": np.linspace(3, 15, 10), "max_episode_steps": 9}
    whole, blocked = TorchCartPoleVectorEnv(10, **kwargs), TorchCartPoleVectorEnv(10, **kwargs)
    blocked._block = 4
    whole.reset(seed=2)
    blocked.reset(seed=2)
    for step in range(30):
        actions = torch.full((10, 1), (-1.0) ** (step // 3))
        assert all(torch.equal(a, b) for a, b in zip(whole.step(actions)[:4], blocked.step(actions)[:4], strict=True))


def test_bad_parameter_arrays_and_randomize_arguments_are_refused():
    with pytest.raises(ValueError, match=r"parameter arrays must have shape \(num_envs,\) = \(4,\), got \(3,\)"):
        TorchCartPoleVectorEnv(4, length=[0.5, 0.6, 0.7])
    with pytest.raises(ValueError, match=r"length must lie in .* at index 1"):
        TorchCartPoleVectorEnv(2, length=[0.5, -1.0])
    with pytest.raises(ValueError, match="unknown CartPole parameter 'mass'"):
        TorchCartPoleVectorEnv(2, randomize={"mass": (1, 2)})
    with pytest.raises(ValueError, match="length given both as a value and in randomize"):
        TorchCartPoleVectorEnv(2, length=0.5, randomize={"length": (0.3, 0.6)})


def test_per_sub_env_parameters_match_the_numpy_env_on_the_swing_up():
    values = {"length": np.linspace(0.3, 1.0, 16), "force_mag": np.linspace(5, 15, 16), "gravity": 9.0}
    torch_env = make_torch_vector_env("ContinuousCartPoleSwingUp-v0", 16, dtype=torch.float64, **values)
    numpy_env = gym.make_vec("ContinuousCartPoleSwingUp-v0", num_envs=16, dtype=np.float64, **values)
    assert torch_env.params == numpy_env.params and torch_env.observation_space == numpy_env.observation_space
    torch_env.reset(seed=0)
    numpy_env.reset(seed=0)
    numpy_env.state = torch_env.state.numpy()
    rng = np.random.default_rng(0)
    for _ in range(200):
        actions = rng.uniform(-1, 1, (16, 1)).astype(np.float32)
        obs_t, reward_t, *_ = torch_env.step(torch.as_tensor(actions))
        obs_n, reward_n, *_ = numpy_env.step(actions)
        np.testing.assert_allclose(obs_t.numpy(), obs_n, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(reward_t.numpy(), reward_n, rtol=1e-6, atol=1e-7)
