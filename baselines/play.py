"""Driving a cart-pole by keyboard: the left and right arrows push the cart, one env step per tick.

The loop takes its key events from an iterable of ticks (the events of one tick each), so the window's events and
a test's scripted ones drive it the same way. It yields one frame per tick, with the rollout overlay.

- Continuous env: holding an arrow ramps the force up to full strength over ``ramp_seconds``; releasing both
  arrows (or holding both) returns it to 0; switching arrows starts the ramp again from 0 in the new direction.
- Discrete env: an arrow held pushes with full force; it has no zero force, so the cart waits while none is held.

Every episode waits for the first arrow, so the pole does not fall before the player is ready. Escape or closing
the window ends the loop; an episode that ends holds its last frame for ``hold_seconds`` and the next one starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from baselines.rollouts import applied_force, describe_action
from continuous_cartpole.rendering import KeyEvent, overlay_text

HINT = "LEFT / RIGHT: push   Esc: quit"


@dataclass(frozen=True)
class PlayFrame:
    image: np.ndarray  # (H, W, 3) uint8 with the overlay
    episode: int  # from 1
    step: int
    episode_return: float
    force_fraction: float  # of the action applied on this tick, in [-1, 1]; 0 when no step was taken
    done: bool  # the episode has ended (its last frame, held for a while)


class Keyboard:
    """The arrows held down, and the force they ask for: ramped for a continuous env, all or nothing otherwise."""

    def __init__(self, continuous: bool, ramp_per_tick: float) -> None:
        self.continuous = continuous
        self.ramp_per_tick = ramp_per_tick
        self.held: set[str] = set()
        self.quit = False
        self.force = 0.0  # fraction of full force, in [-1, 1]

    def handle(self, events: Sequence[KeyEvent]) -> None:
        for event in events:
            if event.quits:
                self.quit = True
            elif event.key in ("left", "right") and event.pressed:
                self.held.add(event.key)
            elif event.key in ("left", "right"):
                self.held.discard(event.key)

    def next_force(self) -> float | None:
        """This tick's force fraction; None for a discrete env with no arrow held (it has no zero force)."""
        direction = ("right" in self.held) - ("left" in self.held)
        if not self.continuous:
            return None if direction == 0 else float(direction)
        if direction == 0:
            self.force = 0.0
        else:
            same_way = self.force * direction > 0
            self.force = float(np.clip((self.force if same_way else 0.0) + direction * self.ramp_per_tick, -1, 1))
        return self.force


def play_frames(
    env: gym.Env,
    ticks: Iterable[Sequence[KeyEvent]],
    seed: int | None = None,
    ramp_seconds: float = 0.5,
    hold_seconds: float = 1.0,
) -> Iterator[PlayFrame]:
    """One frame for the start state, then one per tick of ``ticks`` until they run out or ask to quit.

    ``env`` must be made with ``render_mode="rgb_array"`` and have a ``Box(-1, 1, (1,))`` or ``Discrete(2)``
    action space; ticks are meant to come at its ``render_fps``. The caller closes ``env``.
    """
    continuous = is_continuous(env.action_space)
    if env.render_mode != "rgb_array":
        raise ValueError(f'play needs an env made with render_mode="rgb_array", got {env.render_mode!r}')
    if not ramp_seconds > 0:
        raise ValueError(f"ramp_seconds must be positive, got {ramp_seconds}")
    if not hold_seconds >= 0:
        raise ValueError(f"hold_seconds must be at least 0, got {hold_seconds}")
    fps = env.metadata.get("render_fps") or 50
    keyboard = Keyboard(continuous, ramp_per_tick=1.0 / (ramp_seconds * fps))
    hold_ticks = round(hold_seconds * fps)

    episode, step, episode_return, done, held_for, started = 1, 0, 0.0, False, 0, False
    action: np.ndarray | None = None
    env.reset(seed=seed)

    def frame(force: float) -> PlayFrame:
        newtons = applied_force(env.unwrapped)
        lines = [
            f"episode {episode}   step {step}",
            f"return {episode_return:.1f}",
            describe_action(action, None if newtons is None or action is None else float(newtons)),
            "episode over" if done else _hint(continuous, started, keyboard),
        ]
        image = overlay_text(np.asarray(env.render()), lines)
        return PlayFrame(image, episode, step, episode_return, force, done)

    yield frame(0.0)
    for events in ticks:
        keyboard.handle(events)
        if keyboard.quit:
            return
        if done:
            held_for += 1
            if held_for <= hold_ticks:
                yield frame(0.0)
                continue
            env.reset()
            keyboard.force = 0.0
            episode, step, episode_return, done, held_for, started, action = episode + 1, 0, 0.0, False, 0, False, None
            yield frame(0.0)
            continue
        force = keyboard.next_force()
        if force is None or not (started or keyboard.held):  # no arrow held yet, or none in the discrete env: wait
            yield frame(0.0)
            continue
        started = True
        action = np.array([force], np.float32) if continuous else np.int64(force > 0)
        _, reward, terminated, truncated, _ = env.step(action)
        step += 1
        episode_return += float(reward)
        done = bool(terminated or truncated)
        yield frame(force)


def is_continuous(space: spaces.Space) -> bool:
    """True for ``Box(-1, 1, (1,))``, False for ``Discrete(2)``; ``ValueError`` for what the arrows cannot drive."""
    if isinstance(space, spaces.Box) and space.shape == (1,) and space.low[0] == -1 and space.high[0] == 1:
        return True
    if isinstance(space, spaces.Discrete) and space.n == 2:
        return False
    raise ValueError(f"play drives a Box(-1, 1, (1,)) or Discrete(2) action space, this env has {space}")


def _hint(continuous: bool, started: bool, keyboard: Keyboard) -> str:
    if not started:
        return "press LEFT or RIGHT to start   Esc: quit"
    if not continuous and not keyboard.held:
        return "hold LEFT or RIGHT to push   Esc: quit"
    return HINT
