import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from continuous_cartpole.physics import ArrayConstants, CartPoleParams, has_failed, has_left_bounds, step_state


def test_defaults_differ_from_gymnasium_only_in_angle_and_failure_reward():
    ours, theirs = CartPoleParams(), CartPoleParams.gymnasium()
    assert ours.theta_threshold_radians == pytest.approx(math.radians(20))
    assert theirs.theta_threshold_radians == 12 * 2 * math.pi / 360
    assert (ours.failure_reward, theirs.failure_reward) == (0.0, 1.0)
    same = {k: v for k, v in vars(ours).items() if k not in ("theta_threshold_radians", "failure_reward")}
    assert same == {k: v for k, v in vars(theirs).items() if k in same}


def test_derived_values_follow_the_parameters():
    params = CartPoleParams(masscart=2.0, masspole=0.5, length=0.25)
    assert params.total_mass == 2.5
    assert params.polemass_length == 0.125
    assert params.observation_high[0] == 2 * params.x_threshold


def test_params_are_frozen():
    with pytest.raises(AttributeError):
        CartPoleParams().gravity = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "name", ["masscart", "masspole", "length", "force_mag", "tau", "theta_threshold_radians", "x_threshold"]
)
@pytest.mark.parametrize("value", [0.0, -1.0])
def test_positive_parameters_refuse_non_positive_values(name, value):
    with pytest.raises(ValueError, match=name):
        CartPoleParams(**{name: value})


@pytest.mark.parametrize("name", ["gravity", "masscart", "tau", "failure_reward"])
@pytest.mark.parametrize("value", [math.nan, math.inf, "1.0", None, True])
def test_parameters_must_be_finite_real_numbers(name, value):
    with pytest.raises(ValueError, match=name):
        CartPoleParams(**{name: value})


def test_unknown_integrator_and_unknown_parameter_are_refused():
    with pytest.raises(ValueError, match="kinematics_integrator"):
        CartPoleParams(kinematics_integrator="rk4")
    with pytest.raises(TypeError, match="mass"):
        CartPoleParams(mass=1.0)  # type: ignore[call-arg]


def test_integers_and_numpy_scalars_are_stored_as_floats():
    params = CartPoleParams(gravity=np.float32(9.8), masscart=2)
    assert type(params.gravity) is float and type(params.masscart) is float


@given(
    state=st.lists(st.floats(-0.3, 0.3), min_size=4, max_size=4),
    force=st.floats(-10, 10),
    integrator=st.sampled_from(["euler", "semi-implicit euler"]),
)
def test_one_core_gives_the_same_numbers_for_floats_and_any_array_shape(state, force, integrator):
    params = CartPoleParams(kinematics_integrator=integrator)
    scalar = step_state(params, tuple(state), force, math)
    batch = np.tile(np.array(state)[:, None, None], (1, 3, 2))  # (4, 3, 2): any batch shape
    arrays = step_state(params, tuple(batch), np.full((3, 2), force), np)
    for s, a in zip(scalar, arrays, strict=True):
        assert a.shape == (3, 2)
        assert np.all(a == s)  # bit for bit


def test_failure_thresholds_are_strict_inequalities():
    params = CartPoleParams()
    assert not has_failed(params, params.x_threshold, params.theta_threshold_radians)
    assert has_failed(params, np.nextafter(params.x_threshold, 10), 0.0)
    assert has_failed(params, 0.0, -np.nextafter(params.theta_threshold_radians, 10))
    flags = has_failed(params, np.array([0.0, 3.0]), np.array([0.0, 0.0]))
    assert flags.tolist() == [False, True]


def test_pushing_right_accelerates_the_cart_right_and_tips_the_pole_left():
    params = CartPoleParams()
    state = (0.0, 0.0, 0.0, 0.0)
    for _ in range(2):
        state = step_state(params, state, params.force_mag, math)
    x, x_dot, theta, theta_dot = state
    assert x > 0 and x_dot > 0 and theta < 0 and theta_dot < 0


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_stepping_in_place_with_out_gives_the_same_bits_as_new_arrays(integrator):
    params = CartPoleParams(kinematics_integrator=integrator)
    rng = np.random.default_rng(0)
    state = np.array(rng.uniform(-0.3, 0.3, size=(4, 64)))
    force = rng.uniform(-10, 10, size=64)
    fresh = step_state(params, tuple(state), force, np)
    rows = tuple(state)
    returned = step_state(params, rows, force, np, out=rows)
    assert all(new is row for new, row in zip(returned, rows, strict=True))  # written into the state itself
    assert np.stack(fresh).tobytes() == state.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_constants_as_0d_arrays_give_the_same_bits_as_the_float_parameters(dtype, integrator):
    params = CartPoleParams(gravity=3.7, masspole=0.3, length=0.7, tau=0.013, kinematics_integrator=integrator)
    constants = ArrayConstants.of(params, dtype)
    assert all(getattr(constants, name).dtype == dtype for name in ("gravity", "tau", "total_mass"))
    rng = np.random.default_rng(1)
    state = rng.uniform(-0.5, 0.5, size=(4, 4096)).astype(dtype)
    thresholds = np.array([[params.x_threshold], [params.theta_threshold_radians]], dtype)
    state[[0, 2]] *= 4 * thresholds  # some inside the bounds, some outside
    state[[0, 2], :3] = np.hstack([thresholds, np.nextafter(thresholds, 10), -thresholds])  # on the edges
    force = rng.uniform(-10, 10, size=4096).astype(dtype)
    with_floats = np.stack(step_state(params, tuple(state), force, np))
    with_arrays = np.stack(step_state(constants, tuple(state), force, np))
    assert with_arrays.dtype == dtype and with_arrays.tobytes() == with_floats.tobytes()
    left = has_left_bounds(params, state[0], state[2])
    assert 0 < left.sum() < left.size
    assert np.array_equal(has_left_bounds(constants, state[0], state[2]), left)
