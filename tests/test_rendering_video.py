"""Visual rollouts: overlays, GIF/MP4 videos, grids of sub-envs, the render and play commands, all headless."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import errno
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import tyro
from gymnasium.error import DependencyNotInstalled
from PIL import Image

import baselines
import baselines.video
from baselines.checkpoint import CheckpointError
from baselines.cli import main
from baselines.cli import play as cli_play
from baselines.cli import render as cli_render
from baselines.cli.common import ALLOW_HEADLESS_WINDOW, CliError
from baselines.play import play_frames
from baselines.rollouts import ScriptedPolicy, grid_frames, rollout_frames
from baselines.runs import RunError
from baselines.video import VideoError, write_video
from continuous_cartpole.rendering import FrameWindow, KeyEvent, overlay_text

OVERLAY = (slice(0, 110), slice(0, 320))  # rows and columns of the text in the top-left corner
BELOW_OVERLAY = slice(120, 400)  # the track, cart and pole: no text there
CART_ROWS = slice(288, 298)  # rows crossing the cart body above the track line (row 300)


class Balancer:
    """A hand-tuned linear controller standing in for a trained policy: it keeps the pole up for hundreds of steps."""

    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        push = np.asarray(observation, np.float32) @ np.array([0.1, 0.5, 10.0, 1.5], np.float32)
        return np.clip(push, -1.0, 1.0)[..., None].astype(np.float32), None


class ConstantForce:
    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        return np.full((*np.shape(observation)[:-1], 1), self.fraction, np.float32), None


def cart_centre(frame: np.ndarray) -> float:
    dark = np.all(frame[CART_ROWS] < 60, axis=2)
    return float(np.nonzero(dark)[1].mean())


def red_columns(frame: np.ndarray) -> np.ndarray:
    red = (frame[BELOW_OVERLAY, :, 0] > 150) & (frame[BELOW_OVERLAY, :, 1] < 90) & (frame[BELOW_OVERLAY, :, 2] < 90)
    return np.nonzero(red.any(axis=0))[0]


def episode_lengths(policy, env_id: str, episodes: int, seed: int, max_steps: int) -> list[int]:
    """Steps per episode, counted with a plain env loop, independently of the rollout code."""
    env = gym.make(env_id, max_episode_steps=max_steps)
    lengths = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        steps, done = 0, False
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy.predict(obs)[0])
            steps, done = steps + 1, terminated or truncated
        lengths.append(steps)
    env.close()
    return lengths


def gif_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
        return frames


def mp4_frames(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return iio.imread(path, plugin="FFMPEG")


def run_command(module, name: str, *argv: object) -> int:
    """Parse and run one subcommand as ``cartpole-baselines`` does (errors are raised, not printed)."""
    assert name == module.NAME
    return tyro.cli(module.command_type(), args=[str(arg) for arg in argv]).run()


@pytest.fixture
def trained_run(tmp_path, monkeypatch) -> Path:
    """A run directory as ``train`` writes it, whose policy is the Balancer (load_policy is swapped for it)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = {"algo": "ars", "env_id": "ContinuousCartPole-v0", "config": {"seed": 0}}
    (run_dir / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(baselines, "load_policy", lambda path, checkpoint: Balancer())
    return run_dir


def no_temporary_files(folder: Path) -> bool:
    return not [path for path in folder.iterdir() if ".tmp" in path.name]


# ---- videos of a run --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".gif", ".mp4"])
def test_a_runs_video_has_one_600x400_frame_per_step_of_each_episode(trained_run, tmp_path, extension, capsys):
    if extension == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / f"rollout{extension}"
    assert (
        run_command(
            cli_render, "render", trained_run, "--episodes", 2, "--seed", 3, "--max-episode-steps", 40, "--out", out
        )
        == 0
    )
    frames = gif_frames(out) if extension == ".gif" else mp4_frames(out)
    lengths = episode_lengths(Balancer(), "ContinuousCartPole-v0", episodes=2, seed=3, max_steps=40)
    assert lengths == [40, 40]  # the controller balances: both episodes run to the limit
    assert len(frames) == sum(length + 1 for length in lengths)  # the start state, then one frame per step
    assert all(frame.shape == (400, 600, 3) for frame in frames)
    assert "2 episode(s), return mean 40.0" in capsys.readouterr().out
    assert no_temporary_files(tmp_path)


@pytest.mark.parametrize("grid", [False, True])
def test_gif_frames_keep_the_rollout_frames_colours(tmp_path, grid):
    if grid:  # 4 tiles: more than the 256 colours a GIF frame can hold
        envs = gym.make_vec("ContinuousCartPole-v0", num_envs=4, render_mode="rgb_array", max_episode_steps=15)
        frames = [frame.image for frame in grid_frames(ConstantForce(0.6), envs, rows=2, cols=2, seed=0)]
        envs.close()
    else:
        env = gym.make("ContinuousCartPole-v0", render_mode="rgb_array", max_episode_steps=15)
        frames = [frame.image for frame in rollout_frames(ConstantForce(0.6), env, episodes=1, seed=0)]
        env.close()
        length = episode_lengths(ConstantForce(0.6), "ContinuousCartPole-v0", episodes=1, seed=0, max_steps=15)[0]
        assert len(frames) == length + 1
    assert write_video(tmp_path / "colours.gif", frames, fps=50) == len(frames)
    decoded = gif_frames(tmp_path / "colours.gif")
    assert len(decoded) == len(frames)
    for gif_frame, frame in zip(decoded, frames, strict=True):
        white = (frame == 255).all(axis=2)
        assert (gif_frame[white] == 255).all()  # the background stays exactly white: no boxes where frames changed
        assert np.any(gif_frame != frame, axis=2).mean() < 0.0005  # only a few antialiased edge pixels move
    if not grid:
        assert np.array_equal(decoded[0], frames[0])  # the start frame of one env has < 256 colours: exact
    with Image.open(tmp_path / "colours.gif") as image:
        assert image.info["duration"] == 20 and image.info["loop"] == 0  # 50 fps, looping


def test_repeated_frames_stay_separate_frames(tmp_path):
    """Pillow's own GIF writer merges equal frames into one longer frame; a paused rollout must keep its count."""
    blank = np.full((400, 600, 3), 255, np.uint8)
    marked = overlay_text(blank, ["step 1"])
    assert write_video(tmp_path / "repeats.gif", [blank, blank, marked, marked, marked], fps=25) == 5
    decoded = gif_frames(tmp_path / "repeats.gif")
    expected = [blank, blank, marked, marked, marked]
    assert len(decoded) == 5 and all(np.array_equal(a, b) for a, b in zip(decoded, expected, strict=True))
    with Image.open(tmp_path / "repeats.gif") as image:
        assert image.info["duration"] == 40  # 25 fps


def test_a_real_trained_run_renders(tmp_path):
    """End to end with the real training and checkpoint code (tiny budget), not a stand-in policy."""
    from baselines.ars import ARSConfig
    from baselines.runs import train_run

    run_dir = tmp_path / "ars-run"
    config = ARSConfig(env_id="DiscreteCartPole-v0", device="cpu", total_steps=2_000, eval_every=1_000)
    train_run("ars", config, run_dir)
    out = tmp_path / "trained.gif"
    assert run_command(cli_render, "render", run_dir, "--max-episode-steps", 20, "--out", out) == 0
    lengths = episode_lengths(baselines.load_policy(run_dir), "DiscreteCartPole-v0", episodes=1, seed=0, max_steps=20)
    assert len(gif_frames(out)) == lengths[0] + 1


# ---- overlay and arrow --------------------------------------------------------------------------------------------


def test_the_overlay_changes_with_the_step_and_leaves_the_drawing_alone():
    env = gym.make("DiscreteCartPole-v0", render_mode="rgb_array")
    twin = gym.make("DiscreteCartPole-v0", render_mode="rgb_array")  # same seed and actions, drawn without overlay
    frames = rollout_frames(ScriptedPolicy("zero", env.action_space), env, episodes=1, seed=5)
    twin.reset(seed=5)
    previous = None
    for frame in [next(frames) for _ in range(4)]:
        if frame.step > 0:
            twin.step(0)
        raw = twin.render()
        assert np.array_equal(frame.image[BELOW_OVERLAY], raw[BELOW_OVERLAY])
        assert (raw[OVERLAY] == 255).all() and (frame.image[OVERLAY] < 100).any()  # text drawn on white
        if previous is not None:
            assert not np.array_equal(frame.image[OVERLAY], previous[OVERLAY])  # step 1 -> 2 -> 3 reads differently
        previous = frame.image
    env.close()
    twin.close()


def test_overlay_text_copies_and_refuses_non_frames():
    frame = np.full((400, 600, 3), 255, np.uint8)
    written = overlay_text(frame, ["step 1"])
    assert (frame == 255).all() and (written[OVERLAY] < 100).any()
    assert not np.array_equal(overlay_text(frame, ["step 2"]), written)
    with pytest.raises(ValueError, match="uint8 array of shape"):
        overlay_text(np.zeros((400, 600), np.uint8), ["x"])


@pytest.mark.parametrize("fraction", [0.8, -0.8])
def test_the_force_arrow_in_the_video_flips_with_the_sign_of_the_force(tmp_path, fraction):
    env = gym.make("ContinuousCartPole-v0", render_mode="rgb_array", max_episode_steps=3)
    out = tmp_path / "arrow.gif"
    write_video(out, (frame.image for frame in rollout_frames(ConstantForce(fraction), env, seed=0)), fps=50)
    env.close()
    start, *stepped = gif_frames(out)
    assert red_columns(start).size == 0  # no force applied yet
    for frame in stepped:
        red, centre = red_columns(frame), cart_centre(frame)
        assert red.size > 20
        assert (red.min() > centre) if fraction > 0 else (red.max() < centre)


# ---- grids ------------------------------------------------------------------------------------------------------


def test_grid_video_has_the_tiled_size(tmp_path):
    out = tmp_path / "grid.gif"
    args = ("--env", "ContinuousCartPole-v0", "--policy", "zero", "--grid", "2x3", "--max-episode-steps", 5)
    assert run_command(cli_render, "render", *args, "--episodes", 2, "--out", out) == 0
    frames = gif_frames(out)
    # without force no pole falls within 5 steps: every sub-env plays 2 episodes of 5 steps, 6 frames each
    assert len(frames) == 12
    assert all(frame.shape == (2 * 400, 3 * 600, 3) for frame in frames)


def test_grid_tiles_sub_env_i_at_row_i_div_cols_and_holds_finished_tiles():
    policy = ScriptedPolicy("zero", gym.spaces.Discrete(2))  # always push left: episodes of different lengths
    envs = gym.make_vec("DiscreteCartPole-v0", num_envs=6, render_mode="rgb_array")
    frames = list(grid_frames(policy, envs, rows=2, cols=3, episodes=1, seed=7))
    twin = gym.make_vec("DiscreteCartPole-v0", num_envs=6, render_mode="rgb_array")
    twin.reset(seed=7)
    starts = twin.render()
    lengths, returns = np.zeros(6, int), np.zeros(6)
    steps, running = 0, np.ones(6, bool)
    while running.any():  # the episode lengths, counted without the grid code
        _, rewards, terminated, truncated, _ = twin.step(np.zeros(6, np.int64))
        steps += 1
        returns += np.where(running, rewards, 0.0)
        lengths[running & (terminated | truncated)] = steps
        running &= ~(terminated | truncated)
    envs.close()
    twin.close()

    assert len(frames) == lengths.max() + 1
    first = frames[0].image
    for i in range(6):
        row, col = divmod(i, 3)
        tile = first[row * 400 : (row + 1) * 400, col * 600 : (col + 1) * 600]
        assert np.array_equal(tile[BELOW_OVERLAY, 1:-1][:-1], starts[i][BELOW_OVERLAY, 1:-1][:-1])  # inside the edge
    shortest = int(np.argmin(lengths))
    row, col = divmod(shortest, 3)
    tiles = [frame.image[row * 400 : (row + 1) * 400, col * 600 : (col + 1) * 600] for frame in frames]
    assert all(np.array_equal(tile, tiles[lengths[shortest]]) for tile in tiles[lengths[shortest] :])  # held
    assert not np.array_equal(tiles[0], tiles[1])
    finished = sorted(value for frame in frames for value in frame.finished_returns)
    assert finished == sorted(returns.tolist())


# ---- play -----------------------------------------------------------------------------------------------------------


def ticks(*script: tuple[int, list[KeyEvent]]) -> Iterator[list[KeyEvent]]:
    """Ticks from (repeat, events) pairs: the events on the first tick of each pair, then repeat - 1 empty ticks."""
    for repeat, events in script:
        yield events
        yield from ([] for _ in range(repeat - 1))


def test_play_ramps_the_force_while_an_arrow_is_held_and_drops_it_on_release():
    env = gym.make("ContinuousCartPole-v0", render_mode="rgb_array")
    script = ticks(
        (3, []),  # waits for the first arrow
        (10, [KeyEvent("right")]),
        (2, [KeyEvent("right", pressed=False)]),
        (4, [KeyEvent("left")]),
        (1, [KeyEvent("escape")]),
    )
    frames = list(play_frames(env, script, seed=0, ramp_seconds=0.5))
    env.close()
    forces = [frame.force_fraction for frame in frames]
    steps = [frame.step for frame in frames]
    assert len(frames) == 1 + 3 + 10 + 2 + 4  # Escape ends it without a frame
    assert steps[:4] == [0, 0, 0, 0] and steps[-1] == 16  # one env step per tick once started
    # 0.5 s to full force at 50 fps: +1/25 per tick held
    assert forces[4:14] == pytest.approx([k / 25 for k in range(1, 11)])
    assert forces[14:16] == [0.0, 0.0]  # released: no force, and the cart keeps moving
    assert forces[16:] == pytest.approx([-k / 25 for k in range(1, 5)])
    right, left = frames[13].image, frames[-1].image
    assert red_columns(right).min() > cart_centre(right) and red_columns(left).max() < cart_centre(left)
    assert red_columns(frames[15].image).size == 0


def test_play_discrete_pushes_while_an_arrow_is_held_and_waits_otherwise():
    env = gym.make("DiscreteCartPole-v0", render_mode="rgb_array")
    script = ticks((3, [KeyEvent("left")]), (3, [KeyEvent("left", pressed=False)]), (2, [KeyEvent("right")]))
    frames = list(play_frames(env, script, seed=0))
    env.close()
    assert [frame.step for frame in frames] == [0, 1, 2, 3, 3, 3, 3, 4, 5]
    assert [frame.force_fraction for frame in frames] == [0, -1, -1, -1, 0, 0, 0, 1, 1]


def test_play_holds_the_end_of_an_episode_then_starts_the_next_with_a_fresh_ramp():
    env = gym.make("ContinuousCartPole-v0", render_mode="rgb_array", max_episode_steps=3)
    script = ticks((3, [KeyEvent("right")]), (5, []), (2, []))  # the arrow stays held throughout
    frames = list(play_frames(env, script, seed=0, hold_seconds=0.1))  # the end is held for 5 ticks at 50 fps
    env.close()
    episode_step_done = [(frame.episode, frame.step, frame.done) for frame in frames[3:]]
    assert episode_step_done == [(1, 3, True)] * 6 + [(2, 0, False), (2, 1, False)]
    assert frames[3].episode_return == 3.0
    assert [frame.force_fraction for frame in frames[1:4]] == pytest.approx([1 / 25, 2 / 25, 3 / 25])
    assert frames[-1].force_fraction == pytest.approx(1 / 25)  # the new episode's ramp starts again from 0


def test_play_refuses_an_env_the_arrows_cannot_drive():
    env = gym.make("Pendulum-v1", render_mode="rgb_array")
    with pytest.raises(ValueError, match=r"Box\(-1, 1, \(1,\)\) or Discrete\(2\)"):
        next(play_frames(env, []))
    env.close()


def test_the_window_reports_keys_and_closing():
    import pygame

    window = FrameWindow("test", fps=1000)
    window.show(np.zeros((400, 600, 3), np.uint8))
    window.events()  # drop what the window opening queued
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_RIGHT))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    events = [event for event in window.events() if event.key in ("right", "escape", "quit")]
    assert events == [KeyEvent("right"), KeyEvent("right", False), KeyEvent("escape"), KeyEvent("quit")]
    assert [event.quits for event in events] == [False, False, True, True]
    window.close()
    window.close()


def scripted_window(monkeypatch, script: list[list[KeyEvent]]) -> list[np.ndarray]:
    """Make every FrameWindow read its events from ``script`` (then quit); returns the frames shown.

    The window code runs for real on the dummy video driver, which the commands refuse unless told otherwise.
    """
    monkeypatch.setenv(ALLOW_HEADLESS_WINDOW, "1")
    shown: list[np.ndarray] = []
    events = iter(script)
    original_show = FrameWindow.show

    def show(self, frame):
        original_show(self, frame)
        shown.append(frame)

    monkeypatch.setattr(FrameWindow, "show", show)
    monkeypatch.setattr(FrameWindow, "events", lambda self: next(events, [KeyEvent("quit")]))
    return shown


def test_play_command_drives_the_window_by_keys(monkeypatch, capsys):
    shown = scripted_window(monkeypatch, [[KeyEvent("right")], [], [], [], []])
    assert run_command(cli_play, "play", "--env", "DiscreteCartPole-v0", "--seed", 1, "--max-episode-steps", 3) == 0
    assert len(shown) == 1 + 5 and shown[0].shape == (400, 600, 3)  # the start, then one frame per tick
    assert "1 episode(s) played, returns: 3" in capsys.readouterr().out


def test_render_human_plays_in_the_window_and_stops_when_it_is_closed(monkeypatch, tmp_path, capsys):
    args = ("render", "--env", "ContinuousCartPole-v0", "--policy", "zero", "--max-episode-steps", 10, "--human")
    shown = scripted_window(monkeypatch, [[]] * 100)
    assert run_command(cli_render, *args) == 0
    assert len(shown) == 11
    shown = scripted_window(monkeypatch, [[], [], [KeyEvent("escape")]])
    assert run_command(cli_render, *args, "--out", tmp_path / "closed.gif") == 1
    assert len(shown) == 3
    assert "not written: the window was closed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the video nor its temporary file


@pytest.mark.parametrize(
    "argv", [("play",), ("render", "--env", "ContinuousCartPole-v0", "--human"), ("play", "--env", "CartPole-v1")]
)
def test_a_window_without_a_display_is_refused_naming_out(argv, monkeypatch, capsys):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # what pygame falls back to, like "offscreen", with no display
    monkeypatch.delenv(ALLOW_HEADLESS_WINDOW, raising=False)
    shown = scripted_window(monkeypatch, [[]] * 1000)
    monkeypatch.delenv(ALLOW_HEADLESS_WINDOW)
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "needs a display" in err and "--out FILE.gif|FILE.mp4" in err and len(err.strip().splitlines()) == 1
    assert shown == []


# ---- bad input ------------------------------------------------------------------------------------------------------


def test_unknown_extension_missing_folder_and_folder_path_are_refused_before_any_frame(tmp_path):
    def frames():
        raise AssertionError("no frame should be made")
        yield

    (tmp_path / "videos.gif").mkdir()
    for path, message in [
        (tmp_path / "rollout.avi", r"unknown video extension '\.avi'.*use \.gif or \.mp4"),
        (tmp_path / "rollout", "unknown video extension '\\(none\\)'"),
        (tmp_path / "missing" / "rollout.gif", "folder .*missing does not exist"),
        (tmp_path / "videos.gif", "it is a folder"),
    ]:
        with pytest.raises(VideoError, match=message):
            write_video(path, frames(), fps=50)
    assert [path.name for path in tmp_path.iterdir()] == ["videos.gif"]


def test_a_failed_or_interrupted_video_leaves_nothing_behind_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "rollout.gif"
    out.write_bytes(b"the previous video")
    frame = np.zeros((400, 600, 3), np.uint8)

    def interrupted():
        yield from (frame, frame, frame)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(out, interrupted(), fps=50)
    with pytest.raises(VideoError, match="frame 1 has shape \\(200, 300, 3\\), the first frame had \\(400, 600, 3\\)"):
        write_video(out, [frame, np.zeros((200, 300, 3), np.uint8)], fps=50)
    with pytest.raises(VideoError, match="no frames to write"):
        write_video(out, [], fps=50)
    with pytest.raises(VideoError, match="uint8 array of shape"):
        write_video(out, [frame.astype(np.float32)], fps=50)
    assert out.read_bytes() == b"the previous video"
    assert [path.name for path in tmp_path.iterdir()] == ["rollout.gif"]


def test_an_interrupted_mp4_leaves_nothing_behind(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    frame = np.zeros((400, 600, 3), np.uint8)

    def interrupted():
        yield from (frame, frame)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(tmp_path / "rollout.mp4", interrupted(), fps=50)
    assert list(tmp_path.iterdir()) == []


def test_mp4_without_imageio_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio", None)  # as if not installed: importing it raises ImportError
    monkeypatch.setitem(sys.modules, "imageio.v2", None)
    with pytest.raises(DependencyNotInstalled, match=r"continuous-cartpole\[video\]"):
        write_video(tmp_path / "rollout.mp4", [np.zeros((400, 600, 3), np.uint8)], fps=50)
    with pytest.raises(CliError, match=r"continuous-cartpole\[video\]"):
        run_command(cli_render, "render", "--env", "ContinuousCartPole-v0", "--out", tmp_path / "rollout.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_run_directory_without_a_policy_is_refused(tmp_path):
    config = {"algo": "ars", "env_id": "ContinuousCartPole-v0", "config": {"seed": 0}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"policy\.safetensors does not exist"):
        run_command(cli_render, "render", tmp_path, "--out", tmp_path / "rollout.gif")
    (tmp_path / "no-config").mkdir()
    with pytest.raises(RunError, match="is not a run directory"):
        run_command(cli_render, "render", tmp_path / "no-config", "--human")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "no-config"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--human"], "give a run directory DIR, or --env ID"),
        (["RUN", "--env", "ContinuousCartPole-v0", "--human"], "not both"),
        (["RUN", "--policy", "zero", "--human"], "--policy goes with --env"),
        (["--env", "ContinuousCartPole-v0"], "nothing to do: pass --human"),
        (["--env", "ContinuousCartPole-v0", "--human", "--episodes", "0"], "--episodes must be at least 1"),
        (["--env", "ContinuousCartPole-v0", "--human", "--grid", "4by4"], "--grid: grid must look like ROWSxCOLS"),
        (["--env", "ContinuousCartPole-v0", "--human", "--grid", "9x9"], "81 tiles; at most 64"),
        (["--env", "ContinuousCartPole-v0", "--out", "OUT/rollout.webm"], "unknown video extension '.webm'"),
        (["--env", "NoSuchEnv-v0", "--human"], "unknown env id 'NoSuchEnv-v0'"),
    ],
)
def test_render_refuses_bad_arguments_clearly(trained_run, tmp_path, argv, message):
    argv = [str(trained_run) if arg == "RUN" else arg.replace("OUT", str(tmp_path)) for arg in argv]
    with pytest.raises(CliError, match=message):
        run_command(cli_render, "render", *argv)


def test_play_refuses_bad_arguments_clearly():
    with pytest.raises(CliError, match="--ramp-seconds must be positive"):
        run_command(cli_play, "play", "--ramp-seconds", 0)
    with pytest.raises(CliError, match="Box\\(-1, 1, \\(1,\\)\\) or Discrete\\(2\\)"):
        run_command(cli_play, "play", "--env", "Pendulum-v1")


@pytest.mark.parametrize("space", [gym.spaces.Box(-1.0, 1.0, (1,), np.float32), gym.spaces.Discrete(2)])
def test_scripted_policies_act_like_sb3_predict(space):
    for name in ("random", "zero"):
        policy = ScriptedPolicy(name, space, seed=0)
        single, _ = policy.predict(np.zeros(4, np.float32))
        batch, _ = policy.predict(np.zeros((5, 4), np.float32))
        assert single.shape == space.shape and batch.shape == (5, *space.shape)
        assert space.contains(single) and all(space.contains(action) for action in batch)
    zero, _ = ScriptedPolicy("zero", space).predict(np.zeros((3, 4)))
    assert (zero == 0).all()
    draws = [ScriptedPolicy("random", space, seed=1).predict(np.zeros((50, 4)))[0] for _ in range(2)]
    assert np.array_equal(draws[0], draws[1]) and len(np.unique(draws[0])) > 1  # seeded, and not constant
    with pytest.raises(ValueError, match="unknown scripted policy 'greedy'"):
        ScriptedPolicy("greedy", space)


def ffmpeg_that_fails_while_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing (frames on stdin): a few bytes of the output, then exit 1, as ffmpeg does when the disk fills up.
    Reading back runs the real ffmpeg. imageio never looks at ffmpeg's exit status."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    real = imageio_ffmpeg.get_ffmpeg_exe()
    fake = tmp_path / "fake-ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *rawvideo*) ;; *) exec "$0.real" "$@" ;; esac\n'
        'for last in "$@"; do :; done\n'
        'printf "\\000\\000\\000\\030ftypisom" > "$last"\n'
        "cat > /dev/null\n"
        "echo 'av_interleaved_write_frame(): No space left on device' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    (tmp_path / "fake-ffmpeg.real").symlink_to(real)
    monkeypatch.setattr(imageio_ffmpeg._io, "get_ffmpeg_exe", lambda: str(fake))


def test_an_mp4_that_ffmpeg_fails_to_write_keeps_the_old_video(tmp_path, monkeypatch):
    folder = tmp_path / "videos"
    folder.mkdir()
    out = folder / "rollout.mp4"
    write_video(out, [np.full((400, 600, 3), 255, np.uint8)] * 5, fps=50)
    good = out.read_bytes()
    ffmpeg_that_fails_while_writing(tmp_path, monkeypatch)
    with pytest.raises(VideoError, match="ffmpeg did not write a playable video"):
        write_video(out, [np.zeros((400, 600, 3), np.uint8)] * 5, fps=50)
    assert out.read_bytes() == good
    assert [path.name for path in folder.iterdir()] == ["rollout.mp4"]


def test_render_onto_a_full_disk_is_one_line_and_exit_code_1(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    gif, mp4 = folder / "rollout.gif", folder / "rollout.mp4"
    gif.write_bytes(b"the previous gif")
    mp4.write_bytes(b"the previous mp4")
    argv = ["render", "--env", "ContinuousCartPole-v0", "--max-episode-steps", "5", "--out"]

    def full_disk(path, frames, fps):
        with open(path, "wb") as file:
            file.write(b"GIF89a")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    with monkeypatch.context() as patch:
        patch.setattr(baselines.video, "_write_gif", full_disk)
        assert main([*argv, str(gif)]) == 1
    ffmpeg_that_fails_while_writing(tmp_path, monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(baselines.video, "_free_bytes", lambda folder: 0)  # ffmpeg gives no errno: the disk is seen full
        assert main([*argv, str(mp4)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"cartpole-baselines render: error: No space left on device ({path}); free some disk space or write elsewhere"
        for path in (gif, mp4)
    ]
    assert main([*argv, str(mp4)]) == 2  # ffmpeg failing with space left is ffmpeg's failure, not the disk's
    err = capsys.readouterr().err
    assert "ffmpeg did not write a playable video" in err and len(err.strip().splitlines()) == 1
    assert (gif.read_bytes(), mp4.read_bytes()) == (b"the previous gif", b"the previous mp4")
    assert sorted(path.name for path in folder.iterdir()) == ["rollout.gif", "rollout.mp4"]


def test_an_mp4_whose_ffmpeg_stops_reading_frames_is_one_line_without_its_command(tmp_path, monkeypatch, capsys):
    import imageio.v2 as imageio

    class BrokenPipeWriter:  # what imageio raises when ffmpeg dies mid-stream: its message holds the whole command
        def append_data(self, frame):
            raise OSError("[Errno 32] Broken pipe\n\nFFMPEG COMMAND:\n/usr/bin/ffmpeg -y -f rawvideo out.mp4\n")

        def close(self):
            pass

    monkeypatch.setattr(imageio, "get_writer", lambda *args, **kwargs: BrokenPipeWriter())
    out = tmp_path / "rollout.mp4"
    argv = ["render", "--env", "ContinuousCartPole-v0", "--max-episode-steps", "5", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"cartpole-baselines render: error: cannot write video {out}: ffmpeg failed: [Errno 32] Broken pipe\n"
    monkeypatch.setattr(baselines.video, "_free_bytes", lambda folder: 0)
    assert main(argv) == 1
    assert "No space left on device" in capsys.readouterr().err
