"""``baselines.show``: a rollout that Jupyter displays inline, built headless, from a run, a policy or a function."""

import base64
import io
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import baselines
from baselines.inline import MAX_TILE_FRAMES, Animation


class Balancer:
    """A hand-tuned linear controller: it keeps the continuous pole up for the whole episode."""

    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        push = np.asarray(observation, np.float32) @ np.array([0.1, 0.5, 10.0, 1.5], np.float32)
        return np.clip(push, -1.0, 1.0)[..., None].astype(np.float32), None


def decoded_gif(data: bytes) -> list[np.ndarray]:
    with Image.open(io.BytesIO(data)) as image:
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
        return frames


def episode(policy, env_id: str, seed: int, max_steps: int) -> tuple[int, float]:
    """Steps and return of one deterministic episode, counted with a plain env loop."""
    env = gym.make(env_id, max_episode_steps=max_steps)
    obs, _ = env.reset(seed=seed)
    steps, total, done = 0, 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy.predict(obs, deterministic=True)[0])
        steps, total, done = steps + 1, total + float(reward), terminated or truncated
    env.close()
    return steps, total


def test_import_baselines_stays_light_and_show_is_found_on_first_use():
    code = (
        "import sys, baselines; light = not {'gymnasium', 'torch', 'pygame'} & set(sys.modules); "
        "show = baselines.show; print(light, show.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "baselines.inline"]
    with pytest.raises(AttributeError, match="no attribute 'shoe'"):
        baselines.shoe  # noqa: B018


def test_the_animation_shows_in_jupyters_display_protocol_as_an_embedded_gif_of_every_step():
    from IPython.core.formatters import DisplayFormatter

    animation = baselines.show(Balancer(), "ContinuousCartPole-v0", max_steps=60, seed=3)
    bundle, _ = DisplayFormatter().format(animation)
    html = bundle["text/html"]
    prefix = '<img src="data:image/gif;base64,'
    assert html.startswith(prefix)
    embedded = base64.b64decode(html[len(prefix) : html.index('"', len(prefix))])
    assert embedded == animation.data
    frames = decoded_gif(embedded)
    steps, total = episode(Balancer(), "ContinuousCartPole-v0", seed=3, max_steps=60)
    assert (steps, total) == (60, 60.0)
    assert len(frames) == animation.frames == steps + 1  # the start state, then one frame per step
    assert frames[0].shape == (400, 600, 3)
    assert animation.returns == (total,)
    assert "1 episode, return mean 60.0; 61 frames at 50 fps" in bundle["text/plain"]


def test_a_function_and_a_scripted_policy_play_like_the_plain_env_loop():
    push_left = baselines.show(lambda obs: 0, "DiscreteCartPole-v0", seed=5)

    class Left:
        def predict(self, observation, deterministic=True):
            return 0, None

    steps, total = episode(Left(), "DiscreteCartPole-v0", seed=5, max_steps=500)
    assert steps < 500  # the pole falls: the episode ends by termination
    assert push_left.frames == steps + 1 and push_left.returns == (total,)
    zero = baselines.show("zero", "DiscreteCartPole-v0", seed=5)  # action 0: the same pushes
    assert zero.data == push_left.data


def test_a_run_directory_brings_its_policy_and_env(tmp_path):
    from baselines.ars import ARSConfig
    from baselines.runs import train_run

    run_dir = tmp_path / "ars-run"
    config = ARSConfig(env_id="DiscreteCartPole-v0", device="cpu", total_steps=2_000, eval_every=1_000)
    train_run("ars", config, run_dir)
    animation = baselines.show(run_dir, max_steps=40, seed=2)
    steps, total = episode(baselines.load_policy(run_dir), "DiscreteCartPole-v0", seed=2, max_steps=40)
    assert animation.env_id == "DiscreteCartPole-v0"
    assert animation.frames == steps + 1 and animation.returns == (total,)
    assert baselines.show(str(run_dir), max_steps=40, seed=2).data == animation.data  # a str path too


def test_episodes_and_a_grid_of_sub_envs(tmp_path):
    two = baselines.show("random", "DiscreteCartPole-v0", episodes=2, seed=0)
    assert len(two.returns) == 2 and two.frames == sum(two.returns) + 2 * 2  # each: failing step 0, start frame
    grid = baselines.show("zero", "ContinuousCartPole-v0", grid="2x3", max_steps=10)
    assert grid.returns == (10.0,) * 6 and grid.frames == 11
    assert decoded_gif(grid.data)[0].shape == (800, 1800, 3)


def test_an_env_made_by_the_caller_is_used_as_it_is_and_left_open():
    env = gym.make("ContinuousCartPole-v0", render_mode="rgb_array", masspole=0.5)
    animation = baselines.show(Balancer(), env, max_steps=15)
    assert animation.env_id == "ContinuousCartPole-v0" and animation.frames == 16
    env.reset(seed=0)  # still open and usable
    env.step(np.zeros(1, np.float32))
    env.close()


def test_mp4_is_a_video_tag_and_save_writes_the_bytes(tmp_path):
    animation = baselines.show("zero", "ContinuousCartPole-v0", max_steps=10, format="mp4")
    assert animation.data[4:8] == b"ftyp" and animation.mime_type == "video/mp4"
    assert animation._repr_html_().startswith('<video src="data:video/mp4;base64,')
    path = animation.save(tmp_path / "rollout.mp4")
    assert path.read_bytes() == animation.data
    with pytest.raises(ValueError, match=r"save it to a \.mp4 file"):
        animation.save(tmp_path / "rollout.gif")
    assert not (tmp_path / "rollout.gif").exists()


@pytest.mark.parametrize(
    ("source", "env", "options", "message"),
    [
        ("no-such-run", "DiscreteCartPole-v0", {}, "neither a run directory nor a scripted policy"),
        (Balancer(), None, {}, "brings no env"),
        (42, "DiscreteCartPole-v0", {}, "needs a run directory, a policy"),
        (type("Result", (), {"best_policy": None})(), "DiscreteCartPole-v0", {}, "pass result.best_policy"),
        ("zero", "DiscreteCartPole-v0", {"format": "webm"}, "format must be 'gif' or 'mp4'"),
        ("zero", "DiscreteCartPole-v0", {"episodes": 0}, "episodes must be a positive integer"),
        ("zero", "DiscreteCartPole-v0", {"max_steps": True}, "max_steps must be a positive integer"),
        ("zero", "DiscreteCartPole-v0", {"episodes": 10}, f"over the {MAX_TILE_FRAMES} shown inline"),
        ("zero", "DiscreteCartPole-v0", {"grid": "3x3", "episodes": 2}, "on 9 tiles could make 9018 frames"),
        ("zero", "DiscreteCartPole-v0", {"grid": "0x3"}, "at least 1 row"),
    ],
)
def test_bad_input_is_one_clear_error(source, env, options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        baselines.show(source, env, **options)


def test_an_env_without_a_time_limit_needs_max_steps():
    from continuous_cartpole import CartPoleEnv

    env = CartPoleEnv(render_mode="rgb_array")
    with pytest.raises(ValueError, match="no time limit: pass max_steps="):
        baselines.show("zero", env)
    assert baselines.show("zero", env, max_steps=5).frames == 6
    env.close()


def test_a_run_of_an_unregistered_env_is_refused_without_importing_anything(tmp_path):
    import json

    run_dir = tmp_path / "foreign"
    run_dir.mkdir()
    config = {"algo": "ars", "env_id": "MyEnv-v0", "gym_package": "my_envs", "config": {"seed": 0}}
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'MyEnv-v0' is not registered; import my_envs first"):
        baselines.show(run_dir)
    assert "my_envs" not in sys.modules


def test_animation_repr_counts_episodes():
    animation = Animation(b"GIF89a", "gif", "X-v0", frames=3, fps=25.0, returns=(1.0, 3.0))
    assert repr(animation) == "Animation(X-v0: 2 episodes, return mean 2.0; 3 frames at 25 fps, GIF of 0 kB)"
