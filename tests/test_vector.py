import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import continuous_cartpole
from continuous_cartpole import CartPoleParams, CartPoleVectorEnv

IDS = list(continuous_cartpole.ENV_IDS)


def batch_actions(envs, rng: np.random.Generator) -> np.ndarray:
    if envs.continuous:
        return rng.uniform(-1.5, 1.5, size=(envs.num_envs, 1)).astype(np.float32)
    return rng.integers(0, envs.single_action_space.n, size=envs.num_envs)


def scripted_action(envs, obs: np.ndarray) -> float | int:
    """Balance: a balancing controller, so episodes reach the time limit; swing-up: a full push, so they end."""
    if envs.task.swingup:
        return 1.0 if envs.continuous else 2
    push = np.clip(0.3 * obs[0] + 0.5 * obs[1] + 10 * obs[2] + 2 * obs[3], -1, 1)
    return push if envs.continuous else int(push > 0)


@pytest.mark.parametrize("env_id", IDS)
def test_make_vec_returns_the_native_vector_env_with_the_spec_time_limit(env_id):
    envs = gym.make_vec(env_id, num_envs=4, masspole=0.2)
    assert type(envs) is CartPoleVectorEnv
    assert envs.max_episode_steps == gym.spec(env_id).max_episode_steps and envs.params.masspole == 0.2
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.continuous == continuous_cartpole.ENV_IDS[env_id]


@pytest.mark.parametrize("env_id", IDS)
def test_one_sub_env_reproduces_the_single_env_through_resets_and_the_time_limit(env_id):
    limit = 90 if gym.spec(env_id).kwargs.get("task") else 60  # the swing-up's push leaves the track in ~75 steps
    single = gym.make(env_id, max_episode_steps=limit)
    envs = gym.make_vec(env_id, num_envs=1, max_episode_steps=limit, dtype=np.float64)
    rng = np.random.default_rng(0)
    obs_s, _ = single.reset(seed=42)
    obs_v, _ = envs.reset(seed=42)
    done, ends = False, {"terminated": 0, "truncated": 0}
    for i in range(1500):
        actions = batch_actions(envs, rng)
        if i % 300 < 200:  # scripted, so that episodes end both ways
            actions[0] = scripted_action(envs, obs_s)
        obs_v, reward_v, term_v, trunc_v, _ = envs.step(actions)
        if done:  # NEXT_STEP autoreset in the vector env <-> reset() in the single env
            obs_s, _ = single.reset()
            assert (reward_v[0], term_v[0], trunc_v[0]) == (0.0, False, False)
        else:
            obs_s, reward_s, term_s, trunc_s, _ = single.step(actions[0])
            assert (reward_v[0], term_v[0], trunc_v[0]) == (reward_s, term_s, trunc_s)
            ends["terminated"] += term_s
            ends["truncated"] += trunc_s and not term_s
        assert obs_v[0].tobytes() == obs_s.tobytes()
        done = bool(term_v[0] or trunc_v[0])
    assert ends["terminated"] > 5 and ends["truncated"] > 2


def test_next_step_autoreset_pays_zero_and_clears_the_flags():
    envs = CartPoleVectorEnv(num_envs=2, continuous=False)
    envs.reset(seed=0)
    actions = np.array([1, 0])
    for _ in range(200):
        _, _, terminated, _, _ = envs.step(actions)
        if terminated.any():
            break
    ended = np.flatnonzero(terminated)
    obs, reward, terminated, truncated, _ = envs.step(actions)
    assert np.all(reward[ended] == 0.0) and not terminated[ended].any() and not truncated[ended].any()
    assert np.all(np.abs(obs[ended]) <= 0.05)  # a fresh start state
    assert np.all(envs.steps[ended] == 0)


def test_truncation_after_max_episode_steps():
    envs = CartPoleVectorEnv(num_envs=3, continuous=True, max_episode_steps=5)
    envs.reset(seed=0)
    zero = np.zeros((3, 1), np.float32)
    for _ in range(4):
        assert not envs.step(zero)[3].any()
    assert envs.step(zero)[3].all()
    assert not envs.step(zero)[3].any()  # the reset step


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_and_actions_give_the_same_outputs(env_id):
    def rollout():
        envs = gym.make_vec(env_id, num_envs=64)
        rng = np.random.default_rng(3)
        outs = [envs.reset(seed=9)[0]]
        for _ in range(100):
            obs, reward, terminated, truncated, _ = envs.step(batch_actions(envs, rng))
            outs += [obs, reward, terminated, truncated]
        return b"".join(np.asarray(o).tobytes() for o in outs)

    assert rollout() == rollout()


def test_float32_state_stays_within_float32_rounding_of_the_float64_state():
    exact = CartPoleVectorEnv(num_envs=256, continuous=True, dtype=np.float64)
    fast = CartPoleVectorEnv(num_envs=256, continuous=True)  # float32 is the default
    exact.reset(seed=1)
    fast.reset(seed=1)
    actions = np.linspace(-1, 1, 256, dtype=np.float32)[:, None]
    for _ in range(20):
        obs_e = exact.step(actions)[0]
        obs_f = fast.step(actions)[0]
    assert np.allclose(obs_e, obs_f, rtol=1e-4, atol=1e-5)
    assert fast.state.dtype == np.float32


def test_observations_are_fresh_float32_arrays_inside_the_space():
    envs = CartPoleVectorEnv(num_envs=8, continuous=True)
    first, _ = envs.reset(seed=0)
    second = envs.step(np.zeros((8, 1), np.float32))[0]
    assert first.dtype == np.float32 and first.flags.c_contiguous
    assert not np.shares_memory(first, second) and not np.shares_memory(second, envs.state)
    assert envs.observation_space.contains(second)


@pytest.mark.parametrize(
    ("continuous", "actions", "error", "message"),
    [
        (True, np.array([[0.1], [np.nan], [0.2]], np.float32), ValueError, r"finite; sub-envs \[1\]"),
        (True, np.zeros((4, 1), np.float32), ValueError, "shape"),
        (True, np.zeros(3, np.float32), ValueError, "shape"),
        (True, np.array([["a"], ["b"], ["c"]]), TypeError, "numeric"),
        (False, np.array([0, 2, 1]), ValueError, r"0 or 1; sub-envs \[1\]"),
        (False, np.array([0, 1]), ValueError, "shape"),
        (False, np.array([0.0, 1.0, 1.0]), TypeError, "integers"),
    ],
)
def test_bad_batches_are_refused_and_every_sub_env_is_unchanged(continuous, actions, error, message):
    envs = CartPoleVectorEnv(num_envs=3, continuous=continuous)
    envs.reset(seed=0)
    before = envs.state.copy()
    with pytest.raises(error, match=message):
        envs.step(actions)
    assert np.array_equal(envs.state, before)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_envs": 0},
        {"num_envs": 2.5},
        {"max_episode_steps": 0},
        {"dtype": np.int32},
        {"render_mode": "human"},
        {"gravity": float("nan")},
    ],
)
def test_bad_constructor_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs)).split("_")[0]):
        CartPoleVectorEnv(**kwargs)


def test_a_vector_env_of_65536_steps_and_pickles():
    envs = gym.make_vec("ContinuousCartPole-v0", num_envs=65536)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, reward, *_ = envs.step(batch_actions(envs, rng))
    assert obs.shape == (65536, 4) and np.isfinite(obs).all() and reward.shape == (65536,)
    twin = pickle.loads(pickle.dumps(envs))
    actions = batch_actions(envs, rng)
    assert envs.step(actions)[0].tobytes() == twin.step(actions)[0].tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_state_keeps_one_contiguous_row_per_variable(dtype):
    """The physics steps whole rows: strided rows would run every operation at a fraction of the speed."""
    envs = CartPoleVectorEnv(num_envs=5, dtype=dtype)
    envs.reset(seed=0)
    assert envs.state.flags.c_contiguous and envs.state.shape == (4, 5)
    next_obs, *_ = envs.step(np.zeros((5, 1), np.float32))
    assert envs.state.flags.c_contiguous
    assert np.array_equal(next_obs, envs.state.T.astype(np.float32))


@pytest.mark.parametrize("continuous", [True, False])
def test_new_params_set_through_set_attr_take_effect_on_the_next_step(continuous):
    """The env keeps the constants as arrays of its dtype: assigning params must refresh them."""
    changed = CartPoleVectorEnv(num_envs=16, continuous=continuous)
    built = CartPoleVectorEnv(num_envs=16, continuous=continuous, gravity=3.0, force_mag=4.0, x_threshold=1.0)
    changed.reset(seed=3)
    built.reset(seed=3)
    changed.set_attr("params", CartPoleParams(gravity=3.0, force_mag=4.0, x_threshold=1.0))
    assert changed.observation_space == built.observation_space != CartPoleVectorEnv(num_envs=16).observation_space
    with pytest.raises(TypeError, match="params must be a CartPoleParams"):
        changed.set_attr("params", {"gravity": 3.0})
    rng = np.random.default_rng(0)
    for _ in range(60):
        actions = batch_actions(changed, rng)
        outputs = zip(changed.step(actions)[:4], built.step(actions)[:4], strict=True)
        assert all(np.array_equal(a, b) for a, b in outputs)
