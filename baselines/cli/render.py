"""``cartpole-baselines render``: watch a run's saved policy, or a scripted one, in a window or as a GIF/MP4 video."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import tyro

from baselines.cli.common import (
    Checkpoint,
    CliError,
    GymPackages,
    OptionalEnvId,
    Seed,
    check_seeds,
    import_gym_packages,
    load_run,
    require_display,
    resolve_env_id,
)

if TYPE_CHECKING:  # the rollout, video and window code load gymnasium, numpy and pygame: only when rendering
    import numpy as np

    from baselines.rollouts import GridFrame, RolloutFrame


NAME = "render"
HELP = (
    "watch a policy in a window (--human) or save it as a GIF/MP4 video (--out): a run's saved policy (DIR) or a "
    "scripted one (--env ID --policy random|zero), with episode, step, return and force written on every frame"
)


@dataclass(frozen=True)
class Render:
    run_dir: tyro.conf.Positional[Annotated[Path | None, tyro.conf.arg(metavar="DIR")]] = None
    """run directory written by 'train'"""
    env: OptionalEnvId = None  # env id for a scripted policy, instead of DIR
    policy: Annotated[str | None, tyro.conf.arg(metavar="NAME", help_behavior_hint="(default: random)")] = None
    """scripted policy for --env: random (uniform actions) or zero (action 0)"""
    episodes: int = 1  # episodes (per sub-env with --grid)
    seed: Seed = 0  # seed of the first reset
    human: bool = False  # show the rollout in a window at the env's frame rate; Esc or closing it stops
    out: Annotated[Path | None, tyro.conf.arg(metavar="FILE")] = None  # write a .gif (pillow) or an .mp4 (video extra)
    grid: Annotated[str | None, tyro.conf.arg(metavar="RxC")] = None
    """tile R x C sub-envs of the vector env into one frame, e.g. 4x4"""
    max_episode_steps: Annotated[int | None, tyro.conf.arg(metavar="N")] = None  # end episodes after N steps
    checkpoint: Checkpoint = "best"
    gym_package: GymPackages = ()

    def run(self) -> int:
        return render(self)


def command_type() -> type:
    return Render


def render(args: Render) -> int:
    import gymnasium as gym
    from gymnasium.error import DependencyNotInstalled

    from baselines.rollouts import ScriptedPolicy, WindowClosed, grid_frames, rollout_frames, shown
    from baselines.video import VideoError, write_video
    from continuous_cartpole.rendering import FrameWindow, WindowError

    grid = _check_arguments(args)
    check_seeds(args.seed, 1 if grid is None else grid[0] * grid[1])
    policy, env_id = _policy_and_env_id(args)
    resolve_env_id(env_id)  # a clear error for an unknown id or module
    env_kwargs = {} if args.max_episode_steps is None else {"max_episode_steps": args.max_episode_steps}
    _check_renderable(env_id, env_kwargs)
    if args.human:
        require_display("render --human")
    env: Any
    if grid is None:
        env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
        action_space = env.action_space
    else:
        env = gym.make_vec(env_id, num_envs=grid[0] * grid[1], render_mode="rgb_array", **env_kwargs)
        action_space = env.single_action_space
    fps = env.metadata.get("render_fps") or 50
    window = FrameWindow(f"{env_id}: {args.run_dir or policy}", fps) if args.human else None
    returns: list[float] = []
    try:
        if isinstance(policy, str):
            policy = ScriptedPolicy(policy, action_space, seed=args.seed)
        frames: Iterable[RolloutFrame | GridFrame]
        if grid is None:
            frames = rollout_frames(policy, env, args.episodes, args.seed)
        else:
            frames = grid_frames(policy, env, grid[0], grid[1], args.episodes, args.seed)
        if window is not None:
            frames = shown(frames, window)
        images = _images(frames, returns)
        if args.out is None:
            for _ in images:
                pass
        else:
            count = write_video(args.out, images, fps)
            print(f"wrote {args.out}: {count} frames at {fps} fps")
    except WindowClosed:
        if args.out is not None:
            print(f"{args.out} not written: the window was closed before the rollout ended", file=sys.stderr)
            return 1
        return 0
    except (VideoError, DependencyNotInstalled, WindowError) as error:
        raise CliError(str(error)) from error
    finally:
        env.close()
        if window is not None:
            window.close()
    print(_summary(returns))
    return 0


def _check_arguments(args: Render) -> tuple[int, int] | None:
    """What the flags' types cannot check, before any work; returns the grid as (rows, cols), or None."""
    from gymnasium.error import DependencyNotInstalled

    from baselines.rollouts import SCRIPTED_POLICIES, parse_grid
    from baselines.video import VideoError, check_video_path

    if (args.run_dir is None) == (args.env is None):
        raise CliError("give a run directory DIR, or --env ID for a scripted policy; not both")
    if args.run_dir is not None and args.policy is not None:
        raise CliError("--policy goes with --env; a run directory brings its own policy")
    if args.policy is not None and args.policy not in SCRIPTED_POLICIES:
        raise CliError(f"--policy must be one of {', '.join(SCRIPTED_POLICIES)}, got {args.policy!r}")
    if not args.human and args.out is None:
        raise CliError("nothing to do: pass --human to watch, --out FILE.gif|FILE.mp4 to save a video, or both")
    if args.episodes < 1:
        raise CliError(f"--episodes must be at least 1, got {args.episodes}")
    if args.max_episode_steps is not None and args.max_episode_steps < 1:
        raise CliError(f"--max-episode-steps must be at least 1, got {args.max_episode_steps}")
    if args.out is not None:
        try:
            check_video_path(args.out)  # before the rollout, so a bad path or a missing extra costs nothing
        except (VideoError, DependencyNotInstalled) as error:
            raise CliError(str(error)) from error
    if args.grid is None:
        return None
    try:
        return parse_grid(args.grid)
    except ValueError as error:
        raise CliError(f"--grid: {error}") from error


def _check_renderable(env_id: str, env_kwargs: dict[str, Any]) -> None:
    """Refuse an env whose renderer needs a missing package, or whose observations no policy here takes (flat Box)
    or actions none plays (Box or Discrete), before any frame."""
    import gymnasium as gym
    from gymnasium.error import DependencyNotInstalled

    try:
        env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    except DependencyNotInstalled as error:
        raise CliError(f"{env_id} cannot be built: {error}") from error
    try:
        observations, actions = env.observation_space, env.action_space
    finally:
        env.close()
    if not (isinstance(observations, gym.spaces.Box) and len(observations.shape) == 1):
        raise CliError(f"render takes envs with flat Box observations (a policy's input); {env_id}'s: {observations}")
    if not isinstance(actions, (gym.spaces.Box, gym.spaces.Discrete)):
        raise CliError(f"render takes envs with Box or Discrete actions; {env_id}'s: {actions}")


def _policy_and_env_id(args: Render) -> tuple[Any, str]:
    """The run's policy and env id (``RunError``/``CheckpointError`` naming the file), or the scripted policy's name."""
    if args.run_dir is None:
        import_gym_packages(args.gym_package)
        return args.policy or "random", args.env
    _, env_id, policy = load_run(args.run_dir, args.gym_package, args.checkpoint)
    return policy, env_id


def _images(frames: Iterable[RolloutFrame | GridFrame], returns: list[float]) -> Iterator[np.ndarray]:
    """The frames' images; the returns of the episodes that end go to ``returns`` on the way."""
    for frame in frames:
        returns.extend(frame.finished_returns)
        yield frame.image


def _summary(returns: list[float]) -> str:
    if not returns:
        return "no episode finished"
    shown_returns = ", ".join(f"{value:g}" for value in returns[:10]) + (", ..." if len(returns) > 10 else "")
    return f"{len(returns)} episode(s), return mean {statistics.fmean(returns):.1f}: {shown_returns}"
