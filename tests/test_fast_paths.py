"""The fast paths of the single env's step give the same results and refusals as the general ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from continuous_cartpole.actions import _checked_force_fraction, continuous_force_fraction, discrete_force_sign
from continuous_cartpole.env import CartPoleEnv
from continuous_cartpole.physics import CartPoleParams, has_failed, is_within_bounds
from continuous_cartpole.vector import CartPoleVectorEnv


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
@pytest.mark.parametrize("value", [-3.0, -1.0, -0.25, -0.0, 0.0, 0.7, 1.0, 2.5])
def test_continuous_fast_path_equals_the_checked_conversion(dtype, value):
    action = np.array([value], dtype=dtype)
    fraction = continuous_force_fraction(action)
    assert type(fraction) is float
    assert fraction == _checked_force_fraction(action) == min(max(float(action[0]), -1.0), 1.0)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_continuous_fast_path_refuses_non_finite_actions(dtype, value):
    with pytest.raises(ValueError, match="finite"):
        continuous_force_fraction(np.array([value], dtype=dtype))


@pytest.mark.parametrize("action", [np.array([0.5], dtype=object), np.array([0.5 + 0j])])
def test_continuous_fast_path_refuses_non_real_dtypes(action):
    with pytest.raises(TypeError, match="real number"):
        continuous_force_fraction(action)


@pytest.mark.parametrize("action", [True, False, np.bool_(True)])
def test_discrete_fast_path_refuses_bools(action):
    with pytest.raises(TypeError, match="integer"):
        discrete_force_sign(action)


def test_is_within_bounds_is_the_negation_of_has_failed_and_false_for_nan_and_infinity():
    params = CartPoleParams()
    xs = np.array([0.0, params.x_threshold, -params.x_threshold, np.nextafter(params.x_threshold, 9), np.nan, np.inf])
    thetas = np.array([0.0, params.theta_threshold_radians, np.nan, 0.0, 0.0, 0.0])
    inside = is_within_bounds(params, xs, thetas)
    with np.errstate(invalid="ignore"):
        assert inside.tolist() == (~has_failed(params, xs, thetas)).tolist() == [True, True, False, False, False, False]
    for x, theta, expected in zip(xs.tolist(), thetas.tolist(), inside.tolist(), strict=True):
        assert is_within_bounds(params, x, theta) is expected  # a bool for Python floats


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
@pytest.mark.parametrize("state", [(0.0, math.inf, 0.0, 0.0), (0.0, 0.0, 0.0, -math.inf), (0.0, math.nan, 0.0, 0.0)])
def test_a_non_finite_speed_terminates_the_step_it_is_stepped_from(integrator, state):
    env = CartPoleEnv(continuous=False, kinematics_integrator=integrator)
    env.reset(seed=0)
    env.state = state
    with pytest.warns(UserWarning, match="NaN or infinite"):
        _, reward, terminated, _, _ = env.step(1)
    assert terminated and reward == env.params.failure_reward


@pytest.mark.parametrize("dtype", ["<i8", ">i8", "<i4", "i1", "u1", ">u2"])
def test_discrete_vector_actions_of_every_integer_dtype_push_as_the_single_env(dtype):
    envs = CartPoleVectorEnv(num_envs=4, continuous=False, dtype=np.float64)
    envs.reset(seed=0)
    actions = np.array([0, 1, 1, 0], dtype=dtype)
    assert envs._forces(actions).tolist() == [discrete_force_sign(int(a)) * 10.0 for a in actions]


@pytest.mark.parametrize(("dtype", "bad"), [("<i8", -1), (">i8", -1), ("i1", -128), ("u1", 255), (">u2", 2)])
def test_discrete_vector_actions_outside_0_and_1_are_refused_in_every_integer_dtype(dtype, bad):
    envs = CartPoleVectorEnv(num_envs=3, continuous=False)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"0 or 1; sub-envs \[2\]"):
        envs.step(np.array([1, 0, bad], dtype=dtype))
