import gymnasium as gym
import numpy as np
import pytest

from continuous_cartpole import CartPoleEnv, CartPoleVectorEnv

CART_ROWS = slice(288, 298)  # rows crossing the cart body above the track line (row 300)


def cart_centre(frame: np.ndarray) -> float:
    dark = np.all(frame[CART_ROWS] < 60, axis=2)  # the black cart
    return float(np.nonzero(dark)[1].mean())


def red_columns(frame: np.ndarray) -> np.ndarray:
    red = (frame[..., 0] > 150) & (frame[..., 1] < 90) & (frame[..., 2] < 90)
    return np.nonzero(red.any(axis=0))[0]


def frame_with_state(env: CartPoleEnv, x: float, theta: float = 0.0) -> np.ndarray:
    env.state = (x, 0.0, theta, 0.0)
    return env.render()


@pytest.mark.parametrize("continuous", [True, False])
def test_rgb_array_frames_are_400_by_600_uint8_and_fresh(continuous):
    env = CartPoleEnv(continuous=continuous, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (400, 600, 3) and first.dtype == np.uint8
    env.step(env.action_space.sample())
    assert env.render() is not first
    env.close()
    env.close()  # twice is safe


def test_the_drawing_moves_right_when_the_cart_does():
    env = CartPoleEnv(render_mode="rgb_array")
    env.reset(seed=0)
    centres = [cart_centre(frame_with_state(env, x)) for x in (-1.0, 0.0, 1.5)]
    assert centres[0] < centres[1] < centres[2]
    assert centres[1] == pytest.approx(300, abs=2)  # x = 0 is the middle of the screen
    assert centres[2] - centres[1] == pytest.approx(1.5 * 600 / 4.8, abs=2)


def test_a_positive_angle_leans_the_pole_to_the_right():
    env = CartPoleEnv(render_mode="rgb_array")
    env.reset(seed=0)
    upright, leaning = frame_with_state(env, 0.0, 0.0), frame_with_state(env, 0.0, 0.3)

    def pole_column(frame: np.ndarray) -> float:
        pole_colour, top_rows = (202, 152, 101), slice(200, 240)
        return float(np.nonzero(np.all(frame[top_rows] == pole_colour, axis=2))[1].mean())

    assert pole_column(leaning) > pole_column(upright) + 10


def test_continuous_env_draws_a_force_arrow_that_follows_the_action():
    env = CartPoleEnv(continuous=True, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(np.array([1.0], np.float32))
    right = red_columns(env.render())
    centre = cart_centre(env.render())
    env.reset(seed=0)
    env.step(np.array([-0.5], np.float32))
    left = red_columns(env.render())
    assert right.min() > centre and left.max() < centre  # direction follows the sign
    assert np.ptp(right) > np.ptp(left) * 1.5  # length follows the magnitude
    env.step(np.array([0.0], np.float32))
    assert red_columns(env.render()).size == 0  # no force, no arrow


def test_discrete_env_draws_no_arrow():
    env = CartPoleEnv(continuous=False, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(1)
    assert red_columns(env.render()).size == 0


def test_human_mode_runs_headless_and_closes_twice():
    env = gym.make("ContinuousCartPole-v0", render_mode="human")
    env.reset(seed=0)
    for _ in range(3):
        assert env.step(np.array([0.1], np.float32))[0].shape == (4,)
    assert env.render() is None
    env.close()
    env.close()


def test_render_without_a_mode_warns_and_returns_nothing():
    env = CartPoleEnv()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render mode"):
        assert env.render() is None


def test_vector_env_returns_one_frame_per_sub_env():
    envs = CartPoleVectorEnv(num_envs=3, render_mode="rgb_array")
    envs.reset(seed=0)
    envs.state[0] = [-1.0, 0.0, 1.0]
    frames = envs.render()
    assert len(frames) == 3 and all(f.shape == (400, 600, 3) for f in frames)
    centres = [cart_centre(f) for f in frames]
    assert centres[0] < centres[1] < centres[2]
    envs.close()


def pole_pixels(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pole's colour (202, 152, 101), antialiased edges aside."""
    pole = np.abs(frame.astype(int) - (202, 152, 101)).sum(axis=2) < 40
    return np.nonzero(pole)


@pytest.mark.parametrize("length", [0.5, 2.0])
def test_the_swingup_frame_holds_the_poles_whole_circle_at_both_ends_of_the_track(length):
    env = CartPoleEnv(task="swingup", tau=0.01, length=length, render_mode="rgb_array")
    env.reset(seed=0)
    track_row = 200  # the swing-up draws the track across the middle
    assert np.all(env.render()[track_row] < 60, axis=1).sum() > 100  # a long black line: the track
    for x in (-2.4, 0.0, 2.4):
        for theta in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            rows, columns = pole_pixels(frame_with_state(env, x, theta))
            # the pole's far end is inside the frame with room to spare (drawn, not clipped)
            assert rows.size and rows.min() > 0 and rows.max() < 399 and columns.min() > 0 and columns.max() < 599
    rows, _ = pole_pixels(frame_with_state(env, 0.0, np.pi))
    assert rows.min() > track_row - 15 and rows.max() > track_row + 50  # hanging from the axle, below the track
    env.close()


def test_the_balance_frame_is_unchanged_by_the_swingup_layout():
    env = CartPoleEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = frame_with_state(env, 0.0)
    assert np.all(frame[300] < 60)  # the track line runs across the whole width, at row 300
    env.close()
