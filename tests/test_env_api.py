"""The env API agrees with itself: set_attr validates as the constructor does, the torch env validates as the NumPy
env does, sizes are checked before anything is allocated, and a non-finite state ends its episode in every env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from continuous_cartpole import CartPoleVectorEnv
from continuous_cartpole.torch_vector import TorchCartPoleVectorEnv

AutoresetMode = gym.vector.AutoresetMode


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("num_envs", 10, r"num_envs is fixed when the env is made; make a new one: gym.make_vec\(..., num_envs=10\)"),
        ("max_episode_steps", -5, "max_episode_steps must be a positive integer, got -5"),
        ("max_episode_steps", 2.5, "max_episode_steps must be a positive integer, got 2.5"),
        ("autoreset_mode", "bogus", "autoreset_mode must be an AutoresetMode or one of 'NextStep'"),
        ("continuous", "yes", "continuous must be True or False, got 'yes'"),
        ("dtype", np.float16, "dtype is fixed when the env is made"),
        ("render_mode", "human", "render_mode must be 'rgb_array' or None for a vector env, got 'human'"),
    ],
)
def test_set_attr_refuses_what_the_constructor_refuses_and_changes_nothing(name, value, message):
    envs = gym.make_vec("ContinuousCartPole-v0", num_envs=4)
    envs.reset(seed=0)
    before = envs.get_attr(name)
    with pytest.raises(ValueError, match=message):
        envs.set_attr(name, value)
    with pytest.raises(ValueError, match=message):
        setattr(envs, name, value)
    assert envs.get_attr(name) == before
    obs, reward, *_ = envs.step(np.zeros((4, 1), np.float32))
    assert obs.shape == (4, 4) and (reward == 1.0).all()


def test_set_attr_applies_valid_values_as_the_constructor_would():
    envs = CartPoleVectorEnv(num_envs=3, continuous=True)
    envs.set_attr("autoreset_mode", "SameStep")
    assert envs.autoreset_mode is AutoresetMode.SAME_STEP and envs.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    envs.set_attr("continuous", False)
    assert envs.action_space == gym.spaces.MultiDiscrete([2, 2, 2])
    envs.set_attr("max_episode_steps", np.int64(3))
    envs.reset(seed=0)
    for _ in range(3):
        _, _, _, truncated, info = envs.step(np.ones(3, np.int64))
    assert truncated.all() and info["_final_obs"].all()


def test_a_huge_num_envs_is_a_one_line_error_before_any_allocation():
    for make in (
        lambda n: gym.make_vec("ContinuousCartPole-v0", num_envs=n),
        lambda n: TorchCartPoleVectorEnv(n),
    ):
        with pytest.raises(
            ValueError, match=r"num_envs must be at most 67,108,864 \(2\*\*26\), got 9,223,372,036,854,"
        ):
            make(np.uint64(2**63))
        with pytest.raises(ValueError, match="num_envs must be at most"):
            make(2**26 + 1)
    with pytest.raises(ValueError, match="max_episode_steps must be at most"):
        gym.make_vec("ContinuousCartPole-v0", num_envs=2, max_episode_steps=2**64)


@pytest.mark.parametrize("name", ["continuous", "validate_actions", "compile"])
@pytest.mark.parametrize("value", ["no", 0, None])
def test_the_torch_env_takes_only_real_bools_as_the_numpy_env_does(name, value):
    with pytest.raises(ValueError, match=f"{name} must be True or False, got {value!r}"):
        TorchCartPoleVectorEnv(2, **{name: value})


def test_the_torch_env_refuses_an_empty_reset_mask_as_the_numpy_env_does():
    numpy_env = CartPoleVectorEnv(num_envs=3, autoreset_mode="Disabled")
    torch_env = TorchCartPoleVectorEnv(3, autoreset_mode="Disabled")
    numpy_env.reset(seed=0)
    torch_env.reset(seed=0)
    with pytest.raises(ValueError, match="reset_mask must select at least one sub-env"):
        numpy_env.reset(options={"reset_mask": np.zeros(3, bool)})
    state = torch_env.state.clone()
    with pytest.raises(ValueError, match="reset_mask must select at least one sub-env"):
        torch_env.reset(options={"reset_mask": torch.zeros(3, dtype=torch.bool)})
    assert torch.equal(torch_env.state, state)
    unchecked = TorchCartPoleVectorEnv(3, autoreset_mode="Disabled", validate_actions=False)
    unchecked.reset(seed=0)
    state = unchecked.state.clone()
    unchecked.reset(options={"reset_mask": torch.zeros(3, dtype=torch.bool)})  # no host read: resets nothing
    assert torch.equal(unchecked.state, state)


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_a_nan_action_without_validation_ends_the_episode_at_once_as_in_the_numpy_env(mode):
    envs = TorchCartPoleVectorEnv(3, validate_actions=False, autoreset_mode=mode)
    envs.reset(seed=0)
    _, reward, terminated, truncated, _ = envs.step(torch.tensor([[0.0], [float("nan")], [0.5]]))
    assert terminated.tolist() == [False, True, False] and not truncated.any()
    assert reward.tolist() == [1.0, 0.0, 1.0]
    numpy_env = CartPoleVectorEnv(num_envs=3, autoreset_mode=mode)
    numpy_env.reset(seed=0)
    numpy_env.state[1, 1] = np.nan  # the NumPy env refuses NaN actions, so its state is made non-finite directly
    with pytest.warns(UserWarning, match="NaN or infinite"):
        _, reward_n, terminated_n, _, _ = numpy_env.step(np.zeros((3, 1), np.float32))
    assert terminated_n.tolist() == terminated.tolist() and reward_n.tolist() == reward.tolist()


def test_assigning_the_state_copies_it_into_the_env_dtype_and_checks_its_shape():
    envs = CartPoleVectorEnv(num_envs=3)
    envs.reset(seed=0)
    mine = np.zeros((4, 3))
    envs.state = mine
    assert envs.state.dtype == np.float32 and envs.state.flags.c_contiguous
    obs, *_ = envs.step(np.ones((3, 1), np.float32))
    assert not mine.any() and (obs[:, 1] > 0).all()  # stepped from the zero state, which stays the caller's
    with pytest.raises(ValueError, match=r"state must have shape \(4, num_envs\) = \(4, 3\), got \(3, 4\)"):
        envs.state = np.zeros((3, 4))
