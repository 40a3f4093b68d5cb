import copy
import math
import os
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import continuous_cartpole
from continuous_cartpole import CartPoleEnv

IDS = list(continuous_cartpole.ENV_IDS)
GYMNASIUM_VALUES = {"theta_threshold_radians": 12 * 2 * math.pi / 360, "failure_reward": 1.0}


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("render_mode", [None, "human", "rgb_array"])
def test_gymnasium_and_sb3_checkers_pass_without_a_warning(env_id, render_mode):
    env = gym.make(env_id, render_mode=render_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_discrete_env_reproduces_gymnasium_cartpole_v1_step_for_step(integrator):
    theirs = gym.make("CartPole-v1")
    theirs.unwrapped.kinematics_integrator = integrator
    ours = gym.make("DiscreteCartPole-v0", kinematics_integrator=integrator, **GYMNASIUM_VALUES)
    actions = np.random.default_rng(7).integers(0, 2, size=6000)
    # a policy that balances a while, so that episodes also end by truncation at 500 steps
    ob_t, _ = theirs.reset(seed=123)
    ob_o, _ = ours.reset(seed=123)
    episodes = truncations = 0
    for i, random_action in enumerate(actions):
        action = int(ob_t[2] + 0.5 * ob_t[3] > 0) if i % 3000 < 2000 else int(random_action)
        out_t, out_o = theirs.step(action), ours.step(action)
        assert out_t[0].tobytes() == out_o[0].tobytes(), f"observation differs at step {i}"
        assert out_t[1:4] == out_o[1:4], f"reward or flags differ at step {i}"
        assert type(out_o[1]) is float and type(out_o[2]) is bool and type(out_o[3]) is bool
        ob_t = out_t[0]
        if out_t[2] or out_t[3]:
            episodes += 1
            truncations += out_t[3]
            ob_t, _ = theirs.reset()
            ob_o, _ = ours.reset()
            assert ob_t.tobytes() == ob_o.tobytes()
    assert episodes > 20 and truncations >= 2  # the comparison went through resets and the time limit


def test_defaults_fail_at_20_degrees_and_pay_zero_on_the_failing_step():
    env = gym.make("DiscreteCartPole-v0")
    env.reset(seed=0)
    rewards, obs, terminated = [], None, False
    while not terminated:
        obs, reward, terminated, _, _ = env.step(1)
        rewards.append(reward)
    assert rewards[-1] == 0.0 and set(rewards[:-1]) == {1.0}
    assert abs(obs[2]) > math.radians(20) or abs(obs[0]) > 2.4
    assert env.observation_space.contains(obs)  # the terminal observation is inside the space


@pytest.mark.parametrize(
    "action", [np.array([0.3], np.float32), np.array([0.3], np.float64), 0.3, np.float32(0.3), np.array(0.3), 1]
)
def test_continuous_env_takes_every_numeric_action_form(action):
    env = gym.make("ContinuousCartPole-v0")
    env.reset(seed=1)
    reference = gym.make("ContinuousCartPole-v0")
    reference.reset(seed=1)
    expected = reference.step(np.asarray(action, np.float64).reshape(1))[0]
    assert np.array_equal(env.step(action)[0], expected)


@pytest.mark.parametrize("action", [1, np.int64(1), np.array(1), np.array(1, dtype=np.uint8)])
def test_discrete_env_takes_ints_numpy_ints_and_0d_arrays(action):
    env = gym.make("DiscreteCartPole-v0")
    env.reset(seed=1)
    reference = gym.make("DiscreteCartPole-v0")
    reference.reset(seed=1)
    assert np.array_equal(env.step(action)[0], reference.step(1)[0])


@pytest.mark.parametrize("env_id", [env_id for env_id, continuous in continuous_cartpole.ENV_IDS.items() if continuous])
@pytest.mark.parametrize("value", [1.7, 25.0, -3.0, -1e9])
def test_out_of_range_continuous_actions_act_exactly_like_the_bound(env_id, value):
    clipped, bound = gym.make(env_id), gym.make(env_id)
    clipped.reset(seed=3)
    bound.reset(seed=3)
    for _ in range(5):
        out_c = clipped.step(np.array([value], np.float32))
        out_b = bound.step(np.array([math.copysign(1.0, value)], np.float32))
        assert out_c[0].tobytes() == out_b[0].tobytes() and out_c[1:4] == out_b[1:4]


@pytest.mark.parametrize(
    ("env_id", "action", "error", "message"),
    [
        ("ContinuousCartPole-v0", np.array([np.nan], np.float32), ValueError, "finite"),
        ("ContinuousCartPole-v0", np.array([np.inf]), ValueError, "finite"),
        ("ContinuousCartPole-v0", math.nan, ValueError, "finite"),
        ("ContinuousCartPole-v0", np.zeros(2, np.float32), ValueError, "shape"),
        ("ContinuousCartPole-v0", np.zeros((1, 1), np.float32), ValueError, "shape"),
        ("ContinuousCartPole-v0", "left", TypeError, "continuous action"),
        ("ContinuousCartPole-v0", None, TypeError, "continuous action"),
        ("ContinuousCartPole-v0", np.array(["a"]), TypeError, "dtype"),
        ("DiscreteCartPole-v0", 2, ValueError, "0 .* or 1"),
        ("DiscreteCartPole-v0", -1, ValueError, "0 .* or 1"),
        ("DiscreteCartPole-v0", 0.5, TypeError, "integer"),
        ("DiscreteCartPole-v0", True, TypeError, "integer"),
        ("DiscreteCartPole-v0", np.array([1]), TypeError, "shape"),
        ("DiscreteCartPole-v0", "1", TypeError, "integer"),
    ],
)
def test_bad_actions_are_refused_by_name_and_the_env_stays_usable(env_id, action, error, message):
    env, reference = gym.make(env_id), gym.make(env_id)
    env.reset(seed=5)
    reference.reset(seed=5)
    with pytest.raises(error, match=message):
        env.step(action)
    good = env.action_space.sample() if env_id.startswith("Discrete") else np.array([0.2], np.float32)
    assert np.array_equal(env.step(good)[0], reference.step(good)[0])


def test_step_before_reset_is_refused():
    with pytest.raises(gym.error.ResetNeeded):
        CartPoleEnv().step(np.zeros(1, np.float32))


@pytest.mark.parametrize("copier", [lambda env: pickle.loads(pickle.dumps(env)), copy.deepcopy])
@pytest.mark.parametrize("env_id", IDS)
def test_envs_pickle_and_deepcopy_mid_episode_and_continue_identically(copier, env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=11)
    env.render()  # a live pygame surface must not stop the copy
    for _ in range(10):
        env.step(env.action_space.sample())
    twin = copier(env)
    env.action_space.seed(0)
    twin.action_space.seed(0)
    for _ in range(30):
        a, b = env.action_space.sample(), twin.action_space.sample()
        out, twin_out = env.step(a), twin.step(b)
        assert out[0].tobytes() == twin_out[0].tobytes() and out[1:4] == twin_out[1:4]
        if out[2]:
            break
    assert np.array_equal(env.render(), twin.render())


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_and_actions_give_the_same_rollout(env_id):
    def rollout():
        env = gym.make(env_id)
        env.action_space.seed(7)
        outputs = [env.reset(seed=99)[0]]
        for _ in range(50):  # Gymnasium's determinism check: 50 steps, seeded actions
            ob, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            outputs += [ob, np.array([reward, terminated, truncated])]
            if terminated or truncated:
                outputs.append(env.reset()[0])
        return b"".join(output.tobytes() for output in outputs)

    assert rollout() == rollout()


def test_reset_options_set_the_start_interval_and_are_validated():
    env = gym.make("ContinuousCartPole-v0")
    obs, _ = env.reset(seed=0, options={"low": 0.1, "high": 0.2})
    assert np.all((obs >= 0.1) & (obs <= 0.2))
    for options, message in [
        ({"low": 0.3, "high": 0.2}, "exceed"),
        ({"low": "a"}, "finite"),
        ({"high": math.nan}, "finite"),
        ({"low": -5.0, "high": 5.0}, "observation space"),
    ]:
        with pytest.raises(ValueError, match=message):
            env.reset(options=options)


@pytest.mark.parametrize("kwargs", [{"masscart": -1.0}, {"tau": math.nan}, {"kinematics_integrator": "rk4"}])
def test_bad_physics_keywords_are_refused_by_gym_make(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        gym.make("ContinuousCartPole-v0", **kwargs)


def test_unknown_render_mode_is_refused():
    with pytest.raises(ValueError, match="render_mode"):
        CartPoleEnv(render_mode="ascii")


def test_module_colon_id_form_imports_the_package():
    code = (
        "import gymnasium as gym, sys; env = gym.make('continuous_cartpole:ContinuousCartPole-v0');"
        "print(env.action_space, env.spec.max_episode_steps, env.spec.reward_threshold)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["Box(-1.0,", "1.0,", "(1,),", "float32)", "500", "475.0"]


def test_importing_the_package_imports_neither_pygame_nor_torch():
    code = "import sys, continuous_cartpole; print('pygame' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 40)), deadline=None)
@given(
    params=st.fixed_dictionaries(
        {
            # physical variations around the defaults (the bounds' claim; see CartPoleParams.observation_high)
            "gravity": st.floats(5.0, 15.0),
            "masscart": st.floats(0.5, 2.0),
            "masspole": st.floats(0.05, 0.5),
            "length": st.floats(0.25, 1.0),
            "force_mag": st.floats(5.0, 20.0),
            "tau": st.floats(0.01, 0.03),
            "theta_threshold_radians": st.floats(0.1, 0.6),
            "x_threshold": st.floats(1.0, 4.0),
            "kinematics_integrator": st.sampled_from(["euler", "semi-implicit euler"]),
        }
    ),
    actions=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=200),
    seed=st.integers(0, 2**31 - 1),
)
def test_every_observation_of_an_episode_is_inside_the_observation_space(params, actions, seed):
    env = CartPoleEnv(continuous=True, **params)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    for action in actions:
        obs, reward, terminated, _, _ = env.step(np.array([action], np.float32))
        assert env.observation_space.contains(obs), (obs, env.observation_space.high)
        assert reward == (0.0 if terminated else 1.0)
        if terminated:
            break
