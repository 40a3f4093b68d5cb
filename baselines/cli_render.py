"""``cartpole-baselines render``: watch a run's saved policy, or a scripted one, in a window or as a GIF/MP4 video."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import DependencyNotInstalled

from baselines.cli_common import (
    CliError,
    add_checkpoint_arg,
    add_gym_package_flag,
    import_gym_packages,
    load_run,
    require_display,
    resolve_env_id,
    seed_arg,
)
from baselines.rollouts import (
    SCRIPTED_POLICIES,
    GridFrame,
    RolloutFrame,
    ScriptedPolicy,
    WindowClosed,
    grid_frames,
    parse_grid,
    rollout_frames,
    shown,
)
from baselines.video import VideoError, check_video_path, write_video
from continuous_cartpole.rendering import FrameWindow, WindowError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="watch a policy in a window (--human) or save it as a GIF/MP4 video (--out)",
        description="Roll out a run's saved policy (DIR) or a scripted one (--env ID --policy random|zero), with "
        "episode, step, return and force written on every frame; show it in a window at the env's frame rate, "
        "write every frame of every episode to a video, or both.",
    )
    parser.add_argument("run_dir", nargs="?", type=Path, metavar="DIR", help="run directory written by 'train'")
    parser.add_argument("--env", metavar="ID", help="env id for a scripted policy, instead of DIR")
    parser.add_argument("--policy", choices=SCRIPTED_POLICIES, help="scripted policy for --env (default: random)")
    parser.add_argument("--episodes", type=int, default=1, help="episodes (per sub-env with --grid; default: 1)")
    parser.add_argument("--seed", type=seed_arg, default=0, help="seed of the first reset (default: 0)")
    parser.add_argument("--human", action="store_true", help="show the rollout in a window; Esc or closing it stops")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write a .gif (pillow) or an .mp4 (the video extra)")
    parser.add_argument("--grid", metavar="RxC", help="tile R x C sub-envs of the vector env into one frame, e.g. 4x4")
    add_checkpoint_arg(parser)
    parser.add_argument("--max-episode-steps", type=int, metavar="N", help="end episodes after N steps")
    add_gym_package_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    grid = _check_arguments(args)
    policy, env_id = _policy_and_env_id(args)
    resolve_env_id(env_id)  # a clear error for an unknown id or module
    if args.human:
        require_display("render --human")
    env_kwargs = {} if args.max_episode_steps is None else {"max_episode_steps": args.max_episode_steps}
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


def _check_arguments(args: argparse.Namespace) -> tuple[int, int] | None:
    """What argparse cannot check, before any work; returns the grid as (rows, cols), or None."""
    if (args.run_dir is None) == (args.env is None):
        raise CliError("give a run directory DIR, or --env ID for a scripted policy; not both")
    if args.run_dir is not None and args.policy is not None:
        raise CliError("--policy goes with --env; a run directory brings its own policy")
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


def _policy_and_env_id(args: argparse.Namespace) -> tuple[Any, str]:
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
    return f"{len(returns)} episode(s), return mean {np.mean(returns):.1f}: {shown_returns}"
