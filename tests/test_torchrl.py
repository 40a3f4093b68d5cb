"""TorchRL's GymWrapper takes the NumPy vector env in SAME_STEP mode, the mode TorchRL expects of vector envs."""

import gymnasium as gym
import pytest
from gymnasium.vector import AutoresetMode

import continuous_cartpole

torchrl_envs = pytest.importorskip("torchrl.envs")
torchrl_utils = pytest.importorskip("torchrl.envs.utils")


@pytest.mark.parametrize("env_id", list(continuous_cartpole.ENV_IDS))
def test_gym_wrapper_passes_check_env_specs_and_rolls_out_through_episode_ends(env_id):
    envs = gym.make_vec(env_id, num_envs=4, autoreset_mode=AutoresetMode.SAME_STEP)
    env = torchrl_envs.GymWrapper(envs)
    torchrl_utils.check_env_specs(env)
    rollout = env.rollout(300, break_when_any_done=False)
    assert tuple(env.batch_size) == (4,) and tuple(rollout.batch_size) == (4, 300)
    assert rollout["next", "done"].sum() > 4  # random actions end episodes quickly: many autoresets went through
    observations = rollout["next", "observation"].numpy()
    assert observations.shape == (4, 300, 4) and (abs(observations) <= envs.single_observation_space.high).all()
    env.close()
