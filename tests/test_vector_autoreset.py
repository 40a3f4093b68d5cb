"""The NumPy vector env in every Gymnasium autoreset mode, against SyncVectorEnv over the single env."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import continuous_cartpole
from continuous_cartpole import CartPoleVectorEnv

IDS = list(continuous_cartpole.ENV_IDS)


def max_steps(env_id: str) -> int:
    """A time limit that episodes reach in the random phase: the swing-up's push leaves the track in ~75 steps."""
    return 90 if gym.spec(env_id).kwargs.get("task") else 60


def controller_actions(envs, obs: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
    """Random pushes, and part of the time a scripted policy so that episodes end both ways: balancing (balance),
    pushing right until the cart leaves the track (swing-up)."""
    if step % 300 < 200:
        if envs.task.swingup:
            push = np.ones(len(obs))
        else:
            push = np.clip(0.3 * obs[:, 0] + 0.5 * obs[:, 1] + 10 * obs[:, 2] + 2 * obs[:, 3], -1, 1)
    else:
        push = rng.uniform(-1.5, 1.5, size=len(obs))
    if isinstance(envs.single_action_space, gym.spaces.Box):
        return push.astype(np.float32)[:, None]
    if envs.task.swingup:
        return np.rint(np.clip(push, -1, 1)).astype(np.int64) + 1
    return (push > 0).astype(np.int64)


def same_infos(ours: dict, theirs: dict) -> bool:
    if ours.keys() != theirs.keys():
        return False
    for key, value in theirs.items():
        mine = ours[key]
        if isinstance(value, dict):
            if not same_infos(mine, value):
                return False
        elif value.dtype == object:  # final_obs: None, or one sub-env's last observation
            as_bytes = [[None if v is None else v.tobytes() for v in obs] for obs in (mine, value)]
            if as_bytes[0] != as_bytes[1]:
                return False
        elif not np.array_equal(mine, value):
            return False
    return True


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_each_autoreset_mode_matches_sync_vector_env_over_the_single_env(env_id, mode):
    limit = max_steps(env_id)
    theirs = SyncVectorEnv([lambda: gym.make(env_id, max_episode_steps=limit)], autoreset_mode=mode)
    ours = gym.make_vec(env_id, num_envs=1, max_episode_steps=limit, dtype=np.float64, autoreset_mode=mode.value)
    assert ours.autoreset_mode is mode and ours.metadata["autoreset_mode"] is mode
    obs_t, _ = theirs.reset(seed=42)
    obs_o, _ = ours.reset(seed=42)
    rng = np.random.default_rng(0)
    ends = {"terminated": 0, "truncated": 0}
    for step in range(1500):
        actions = controller_actions(ours, obs_t, step, rng)
        obs_t, reward_t, term_t, trunc_t, info_t = theirs.step(actions)
        obs_o, reward_o, term_o, trunc_o, info_o = ours.step(actions)
        assert obs_o.tobytes() == obs_t.tobytes(), f"observation differs at step {step}"
        # ours pays float32 rewards: the float64 reward of the same float64 state, rounded
        assert reward_o.dtype == np.float32 and np.array_equal(reward_o, reward_t.astype(np.float32)), step
        assert np.array_equal(term_o, term_t) and np.array_equal(trunc_o, trunc_t), f"flags differ at step {step}"
        assert same_infos(info_o, info_t), (step, info_o, info_t)
        ends["terminated"] += int(term_t[0])
        ends["truncated"] += int(trunc_t[0] and not term_t[0])
        if mode is AutoresetMode.DISABLED and (term_t[0] or trunc_t[0]):
            obs_t, _ = theirs.reset(options={"reset_mask": term_t | trunc_t})
            obs_o, _ = ours.reset(options={"reset_mask": term_o | trunc_o})
            assert obs_o.tobytes() == obs_t.tobytes()
    assert ends["terminated"] > 5 and ends["truncated"] > 2


def test_same_step_returns_the_reset_observation_and_the_final_one_in_info():
    envs = CartPoleVectorEnv(num_envs=4, continuous=False, autoreset_mode=AutoresetMode.SAME_STEP)
    envs.reset(seed=0)
    before = None
    for _ in range(200):
        before = envs.state.T.astype(np.float32)
        obs, _, terminated, _, info = envs.step(np.array([1, 1, 0, 1]))
        if terminated.any():
            break
    ended = np.flatnonzero(terminated)
    assert np.array_equal(info["_final_obs"], terminated) and np.array_equal(info["_final_info"], terminated)
    assert all(info["final_obs"][i] is None for i in np.flatnonzero(~terminated))
    for i in ended:
        assert np.abs(info["final_obs"][i][2]) > envs.params.theta_threshold_radians  # the failed state
        assert np.all(np.abs(obs[i]) <= 0.05) and envs.steps[i] == 0  # already restarted
    assert not np.array_equal(obs[ended], before[ended])


def test_disabled_never_resets_and_reset_mask_restarts_only_the_masked_sub_envs():
    envs = CartPoleVectorEnv(num_envs=3, continuous=False, max_episode_steps=5, autoreset_mode="Disabled")
    envs.reset(seed=0)
    for _ in range(5):
        _, _, _, truncated, _ = envs.step(np.array([0, 0, 0]))
    assert truncated.all() and np.array_equal(envs.steps, [5, 5, 5])
    with pytest.warns(UserWarning, match="stepped after their episode ended"):
        obs, _, _, truncated, _ = envs.step(np.array([0, 0, 0]))  # stepped past the end: no reset
    assert truncated.all() and np.array_equal(envs.steps, [6, 6, 6])
    mask = np.array([True, False, True])
    reset_obs, _ = envs.reset(options={"reset_mask": mask})
    assert np.array_equal(envs.steps, [0, 6, 0]) and reset_obs[1].tobytes() == obs[1].tobytes()
    assert np.all(np.abs(reset_obs[mask]) <= 0.05)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reset_mask": np.array([True, False])}, "reset_mask"),
        ({"reset_mask": np.array([1, 0, 1])}, "reset_mask"),
        ({"reset_mask": np.zeros(3, bool)}, "at least one"),
    ],
)
def test_bad_reset_masks_are_refused(options, message):
    envs = CartPoleVectorEnv(num_envs=3, autoreset_mode="Disabled")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        envs.reset(options=options)


def test_an_unknown_autoreset_mode_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"autoreset_mode must be .*'NextStep'.*got 'sometimes'"):
        gym.make_vec("ContinuousCartPole-v0", num_envs=2, autoreset_mode="sometimes")


def test_metadata_is_per_instance():
    same = CartPoleVectorEnv(num_envs=2, autoreset_mode=AutoresetMode.SAME_STEP)
    default = CartPoleVectorEnv(num_envs=2)
    assert same.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert default.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP is CartPoleVectorEnv.metadata["autoreset_mode"]


def test_call_get_attr_and_set_attr_behave_as_in_sync_vector_env():
    envs = gym.make_vec("DiscreteCartPole-v0", num_envs=3, render_mode="rgb_array")
    envs.reset(seed=0)
    frames = envs.call("render")
    assert len(frames) == 3 and all(frame.ndim == 3 for frame in frames)
    assert envs.get_attr("continuous") == (False, False, False)
    envs.set_attr("max_episode_steps", [7, 7, 7])
    assert envs.max_episode_steps == 7
    envs.set_attr("max_episode_steps", 9)
    assert envs.get_attr("max_episode_steps") == (9, 9, 9)
    with pytest.raises(ValueError, match="share 'max_episode_steps'"):
        envs.set_attr("max_episode_steps", [1, 2, 3])
    with pytest.raises(AttributeError, match="no public attribute 'gravity'"):
        envs.get_attr("gravity")
    envs.close()


@pytest.mark.parametrize("env_id", IDS)
def test_disabled_mode_warns_once_when_an_ended_episode_is_stepped_without_a_reset(env_id):
    envs = gym.make_vec(env_id, num_envs=3, max_episode_steps=5, autoreset_mode=AutoresetMode.DISABLED)
    envs.reset(seed=0)
    zero = np.zeros((3, 1), np.float32) if envs.continuous else np.full(3, envs.single_action_space.n // 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(5):
            truncated = envs.step(zero)[3]
    assert truncated.all()
    with pytest.warns(UserWarning, match=r"sub-envs \[0, 1, 2\] are stepped after their episode ended.*reset_mask"):
        envs.step(zero)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        envs.step(zero)  # warned once
        envs.reset(options={"reset_mask": np.array([True, True, True])})
        envs.step(zero)  # a fresh episode: nothing to warn about


def test_gymnasiums_normalize_observation_needs_next_step_as_the_readme_says():
    gym.wrappers.vector.NormalizeObservation(gym.make_vec("ContinuousCartPoleSwingUp-v0", num_envs=2)).close()
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
        envs = gym.make_vec("ContinuousCartPoleSwingUp-v0", num_envs=2, autoreset_mode=mode)
        with pytest.raises(ValueError, match="NEXT_STEP"):
            gym.wrappers.vector.NormalizeObservation(envs)
