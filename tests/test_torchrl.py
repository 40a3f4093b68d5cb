"""TorchRL builds every registered id: ``GymEnv(id)`` and ``GymEnv(id, num_envs=4)`` (which pass ``frameskip=`` and
drop it on Python's unknown-keyword ``TypeError``), and ``GymWrapper`` takes the NumPy vector env in SAME_STEP mode,
the mode TorchRL expects of vector envs."""

import gymnasium as gym
import pytest
from gymnasium.vector import AutoresetMode

import continuous_cartpole

torchrl_envs = pytest.importorskip("torchrl.envs")
torchrl_libs_gym = pytest.importorskip("torchrl.envs.libs.gym")
torchrl_utils = pytest.importorskip("torchrl.envs.utils")

IDS = list(continuous_cartpole.ENV_IDS)


@pytest.mark.parametrize("env_id", IDS)
def test_gym_wrapper_passes_check_env_specs_and_rolls_out_through_episode_ends(env_id):
    # a short time limit, so that every task's episodes end (and autoreset) many times in the rollout
    envs = gym.make_vec(env_id, num_envs=4, autoreset_mode=AutoresetMode.SAME_STEP, max_episode_steps=40)
    env = torchrl_envs.GymWrapper(envs)
    torchrl_utils.check_env_specs(env)
    rollout = env.rollout(300, break_when_any_done=False)
    assert tuple(env.batch_size) == (4,) and tuple(rollout.batch_size) == (4, 300)
    assert rollout["next", "done"].sum() >= 4 * 7  # every sub-env ended at least 300 // 40 times
    observations = rollout["next", "observation"].numpy()
    size = envs.single_observation_space.shape[0]
    assert observations.shape == (4, 300, size) and (abs(observations) <= envs.single_observation_space.high).all()
    env.close()


@pytest.mark.parametrize("num_envs", [0, 4])
@pytest.mark.parametrize("env_id", IDS)
def test_gym_env_builds_every_registered_id_by_name_and_rolls_out(env_id, num_envs):
    # num_envs=4 runs gym.make in AsyncVectorEnv workers that TorchRL starts with "spawn": they import only what the
    # id names, so the id takes Gymnasium's "module:EnvId" form there (or the script imports the package on top)
    env = torchrl_libs_gym.GymEnv(f"continuous_cartpole:{env_id}" if num_envs else env_id, num_envs=num_envs)
    try:
        assert env.wrapper_frame_skip == 1  # our env refused frameskip=1 with the TypeError TorchRL handles
        rollout = env.rollout(20, break_when_any_done=False)
        size = 5 if env_id in continuous_cartpole.SWINGUP_IDS else 4
        assert tuple(rollout["next", "observation"].shape) == ((num_envs,) if num_envs else ()) + (20, size)
    finally:
        env.close()


def test_gym_wrapper_needs_same_step_or_disabled_as_the_readme_says():
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
        torchrl_envs.GymWrapper(gym.make_vec("ContinuousCartPole-v0", num_envs=2, autoreset_mode=mode)).close()
    with pytest.raises(RuntimeError, match="SAME_STEP or DISABLED"):
        torchrl_envs.GymWrapper(gym.make_vec("ContinuousCartPole-v0", num_envs=2))  # NEXT_STEP, the default
