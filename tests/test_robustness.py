"""Bad input to the NumPy envs gets one clear error; extreme parameters and states stay finite or end the episode."""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest

import continuous_cartpole
from continuous_cartpole import CartPoleEnv, CartPoleParams, CartPoleVectorEnv
from continuous_cartpole.physics import PARAMETER_RANGES, has_failed, step_state

IDS = list(continuous_cartpole.ENV_IDS)


@pytest.mark.parametrize("make", [gym.make, lambda env_id, **kw: gym.make_vec(env_id, num_envs=2, **kw)])
@pytest.mark.parametrize("env_id", IDS)
def test_an_unknown_keyword_is_pythons_type_error_naming_the_valid_parameters(make, env_id):
    # Python's wording: TorchRL's GymEnv passes frameskip= and drops it only on exactly this TypeError
    message = r"got an unexpected keyword argument 'frameskip'; valid CartPole parameters: gravity, masscart, "
    with pytest.raises(TypeError, match=message):
        make(env_id, frameskip=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"masscart": 1e-300, "masspole": 1e-300},
        {"length": 1e-300},
        {"force_mag": 1e308},
        {"x_threshold": 1e308},
        {"tau": 1e-300},
        {"theta_threshold_radians": 4.0},
        {"gravity": -1e300},
        {"failure_reward": 1e300},
    ],
)
def test_parameters_that_could_overflow_are_refused_with_their_range(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=rf"{name} must lie in \["):
        gym.make("ContinuousCartPole-v0", **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("corner", ["low", "high"])
def test_one_step_from_the_edge_of_the_bounds_stays_finite_at_the_extreme_parameters(dtype, corner):
    """The worst cases of PARAMETER_RANGES: every state at the observation bounds, full force, both signs."""
    pick = 0 if corner == "low" else 1
    extreme = {name: PARAMETER_RANGES[name][pick] for name in PARAMETER_RANGES}
    extreme |= {"tau": PARAMETER_RANGES["tau"][0], "masspole": PARAMETER_RANGES["masspole"][1 - pick]}
    params = CartPoleParams(**extreme)
    high = np.array(params.observation_high)
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 4)).reshape(4, -1)
    state = tuple((signs * high[:, None]).astype(dtype))
    assert np.isfinite(high).all()
    for force in (-params.force_mag, params.force_mag):
        stepped = step_state(params, state, np.full(signs.shape[1], force, dtype=dtype), np)
        assert all(np.isfinite(value).all() for value in stepped)


def test_has_failed_catches_nan_and_infinite_states_for_floats_and_arrays():
    params = CartPoleParams()
    assert has_failed(params, math.nan, 0.0) and has_failed(params, 0.0, 0.0, math.inf, 0.0)
    assert not has_failed(params, 0.0, 0.0, 1.0, -1.0)
    with np.errstate(invalid="ignore"):  # inf * 0.0
        failed = has_failed(params, np.zeros(3), np.zeros(3), np.array([0.0, np.nan, 0.0]), np.array([0, 0, -np.inf]))
    assert failed.tolist() == [False, True, True]


def test_a_non_finite_state_terminates_the_single_env_with_a_warning_and_refuses_further_steps():
    env = CartPoleEnv(continuous=True)
    env.reset(seed=0)
    env.state = (0.0, 0.0, 0.0, 1e200)  # far outside the bounds, where a step overflows
    with pytest.warns(UserWarning, match="NaN or infinite"):
        _, reward, terminated, _, _ = env.step(np.array([0.0], np.float32))
    assert terminated and reward == 0.0 and not math.isfinite(env.state[3])
    with pytest.raises(ValueError, match=r"NaN or infinite.*call reset"):
        env.step(np.array([0.0], np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_non_finite_state_terminates_its_vector_sub_env_with_a_warning(dtype):
    envs = CartPoleVectorEnv(num_envs=3, continuous=True, dtype=dtype)
    envs.reset(seed=0)
    envs.state[3, 1] = np.nan
    with pytest.warns(UserWarning, match="NaN or infinite"):
        _, _, terminated, _, _ = envs.step(np.zeros((3, 1), np.float32))
    assert terminated.tolist() == [False, True, False]
    obs, reward, terminated, _, _ = envs.step(np.zeros((3, 1), np.float32))  # NEXT_STEP: a fresh start
    assert np.isfinite(obs).all() and reward[1] == 0.0 and not terminated.any()


@pytest.mark.parametrize("make", [CartPoleEnv, CartPoleVectorEnv])
@pytest.mark.parametrize("value", ["False", 0, None])
def test_continuous_must_be_a_real_bool(make, value):
    with pytest.raises(ValueError, match="continuous must be True or False"):
        make(continuous=value)


def make_single(env_id):
    return gym.make(env_id)


def make_vector(env_id):
    return gym.make_vec(env_id, num_envs=2)


def make_torch(env_id):
    torch_vector = pytest.importorskip("continuous_cartpole.torch_vector")
    return torch_vector.TorchCartPoleVectorEnv(num_envs=2, continuous=continuous_cartpole.ENV_IDS[env_id])


@pytest.mark.parametrize("make", [make_single, make_vector, make_torch])
@pytest.mark.parametrize("seed", [True, np.bool_(False), -1, 2**64, 1.5, "3"])
def test_every_env_refuses_the_same_bad_seeds_with_one_message(make, seed):
    env = make("DiscreteCartPole-v0")
    with pytest.raises(ValueError, match=r"^seed must be None or an integer in \[0, 2\*\*64\), got "):
        env.reset(seed=seed)


@pytest.mark.parametrize("make", [make_single, make_vector, make_torch])
@pytest.mark.parametrize("seed", [np.int64(5), np.uint64(2**64 - 1), 2**64 - 1])
def test_every_env_takes_numpy_integers_and_the_largest_seed(make, seed):
    first = make("ContinuousCartPole-v0").reset(seed=seed)[0]
    second = make("ContinuousCartPole-v0").reset(seed=int(seed))[0]
    assert np.array_equal(np.asarray(first), np.asarray(second))


@pytest.mark.parametrize("make", [make_single, make_vector, make_torch])
@pytest.mark.parametrize("options", ["low", ["low", 0.1], 0.1])
def test_non_dict_options_are_refused_before_the_env_is_reseeded(make, options):
    env, twin = make("ContinuousCartPole-v0"), make("ContinuousCartPole-v0")
    env.reset(seed=1)
    twin.reset(seed=1)
    with pytest.raises(ValueError, match="reset options must be a dict"):
        env.reset(seed=2, options=options)
    # the refused reset did not reseed
    assert np.array_equal(np.asarray(env.reset()[0]), np.asarray(twin.reset()[0]))


def test_a_bad_bound_does_not_reseed_either():
    env, twin = gym.make("ContinuousCartPole-v0"), gym.make("ContinuousCartPole-v0")
    env.reset(seed=1)
    twin.reset(seed=1)
    with pytest.raises(ValueError, match="finite number"):
        env.reset(seed=2, options={"low": math.nan})
    assert np.array_equal(env.reset()[0], twin.reset()[0])


def test_a_continuous_action_too_large_for_a_float_gives_a_clear_error():
    env = gym.make("ContinuousCartPole-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="too large for a float; pass a value in"):
        env.step(10**400)
    envs = CartPoleVectorEnv(num_envs=1)
    envs.reset(seed=0)
    with pytest.raises(TypeError, match="numeric"):
        envs.step([[10**400]])


def test_huge_finite_continuous_actions_are_clipped_not_refused():
    envs = CartPoleVectorEnv(num_envs=2)
    envs.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        envs.step(np.array([[3e38], [-3e38]], np.float32))
    assert envs.force.tolist() == [envs.params.force_mag, -envs.params.force_mag]
