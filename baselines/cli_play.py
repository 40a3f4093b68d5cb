"""``cartpole-baselines play``: drive a cart-pole with the arrow keys in a window."""

from __future__ import annotations

import argparse

import gymnasium as gym

from baselines.cli_common import CliError, require_display, resolve_env_id, seed_arg
from baselines.play import is_continuous, play_frames
from continuous_cartpole.rendering import FrameWindow, WindowError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "play",
        help="drive a cart-pole with the arrow keys",
        description="Push the cart with the left and right arrows, one env step per frame at the env's frame rate. "
        "In the continuous env holding an arrow ramps the force up and releasing it returns the force to 0; the "
        "discrete env pushes with full force and waits while no arrow is held. Esc or closing the window quits.",
    )
    parser.add_argument("--env", default="ContinuousCartPole-v0", metavar="ID", help="(default: ContinuousCartPole-v0)")
    parser.add_argument("--seed", type=seed_arg, help="seed of the first reset (default: random)")
    parser.add_argument(
        "--ramp-seconds", type=float, default=0.5, help="time to full force while an arrow is held (default: 0.5)"
    )
    parser.add_argument("--max-episode-steps", type=int, metavar="N", help="end episodes after N steps")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.ramp_seconds > 0:
        raise CliError(f"--ramp-seconds must be positive, got {args.ramp_seconds}")
    if args.max_episode_steps is not None and args.max_episode_steps < 1:
        raise CliError(f"--max-episode-steps must be at least 1, got {args.max_episode_steps}")
    resolve_env_id(args.env)
    env_kwargs = {} if args.max_episode_steps is None else {"max_episode_steps": args.max_episode_steps}
    env = gym.make(args.env, render_mode="rgb_array", **env_kwargs)
    try:
        _check_playable(args.env, env)
    except CliError:
        env.close()
        raise
    window = FrameWindow(f"{args.env}: play", env.metadata.get("render_fps") or 50)
    returns: dict[int, float] = {}  # episode -> return, for the episodes that ended
    try:
        for frame in play_frames(env, iter(window.events, None), seed=args.seed, ramp_seconds=args.ramp_seconds):
            window.show(frame.image)
            if frame.done:
                returns[frame.episode] = frame.episode_return
    except WindowError as error:
        raise CliError(str(error)) from error
    finally:
        env.close()
        window.close()
    if returns:
        print(f"{len(returns)} episode(s) played, returns: {', '.join(f'{value:g}' for value in returns.values())}")
    return 0


def _check_playable(env_id: str, env: gym.Env) -> None:
    """The arrows can drive the env, and there is a display to show it on."""
    try:
        is_continuous(env.action_space)
    except ValueError as error:
        raise CliError(f"env {env_id}: {error}") from error
    require_display("play")
