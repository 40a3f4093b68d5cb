"""``cartpole-baselines play``: drive a cart-pole with the arrow keys in a window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import tyro

from baselines.cli.common import CliError, EnvId, Seed, require_display, resolve_env_id

if TYPE_CHECKING:  # gymnasium, the play loop and the window load only when playing
    import gymnasium as gym

NAME = "play"
HELP = (
    "drive a cart-pole with the arrow keys, one env step per frame at the env's frame rate. In the continuous env "
    "holding an arrow ramps the force up and releasing it returns the force to 0; the discrete env pushes with full "
    "force and waits while no arrow is held. Esc or closing the window quits."
)


@dataclass(frozen=True)
class Play:
    env: EnvId = "ContinuousCartPole-v0"  # env id
    seed: Annotated[Seed | None, tyro.conf.arg(metavar="SEED", help_behavior_hint="(default: random)")] = None
    """seed of the first reset"""
    ramp_seconds: float = 0.5  # time to full force while an arrow is held
    max_episode_steps: Annotated[int | None, tyro.conf.arg(metavar="N")] = None  # end episodes after N steps

    def run(self) -> int:
        return play(self)


def command_type() -> type:
    return Play


def play(args: Play) -> int:
    import gymnasium as gym

    from baselines.play import play_frames
    from continuous_cartpole.rendering import FrameWindow, WindowError

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
    from baselines.play import is_continuous

    try:
        is_continuous(env.action_space)
    except ValueError as error:
        raise CliError(f"env {env_id}: {error}") from error
    require_display("play")
