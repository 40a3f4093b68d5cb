"""pygame drawing of a cart-pole state, text overlays on frames and a window that shows frames; pygame is imported
here only, and only when one of them is first used."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

SCREEN_WIDTH = 600
SCREEN_HEIGHT = 400
RENDER_FPS = 50

_TRACK_Y = 300  # screen row of the track (pygame's y axis points down)
_CART_W, _CART_H = 50.0, 30.0
_AXLE_RISE = _CART_H / 4  # the axle sits this far above the track's line
_CIRCLE_MARGIN_PX = 8  # between the pole's tip and the frame's edge when the whole circle is drawn
_STOP_PX = 12  # half the height of the stops drawn at the track's ends
_POLE_W = 10.0
_BACKGROUND = (255, 255, 255)
_CART_COLOUR = (0, 0, 0)
_POLE_COLOUR = (202, 152, 101)
_AXLE_COLOUR = (129, 132, 203)
_ARROW_COLOUR = (214, 39, 40)
_ARROW_MAX_PX = 120.0  # arrow length at full force
_TEXT_COLOUR = (30, 30, 30)
_TEXT_PX = 24  # pygame's default font; at 24 px its hinting keeps letters evenly spaced (not at 20-23)
_SCREEN_FILL = 0.9  # a window takes at most this share of the desktop; bigger frames are scaled down


def _import_pygame() -> Any:
    try:
        import pygame
        from pygame import gfxdraw  # noqa: F401  (loads the submodule)
    except ImportError as error:
        raise DependencyNotInstalled(
            'pygame is not installed: run `pip install "gymnasium[classic-control]"`'
        ) from error
    return pygame


class CartPoleRenderer:
    """Draws frames of 600x400 pixels; in ``human`` mode it also shows them in a window at ``fps``.

    ``whole_circle=True`` (the swing-up) draws the track across the middle of the frame, with stops at its ends,
    and scales the scene so that the pole's whole circle fits at every angle and every cart position on the track,
    hanging below the track included.
    """

    def __init__(
        self, mode: str, x_threshold: float, length: float, fps: int = RENDER_FPS, whole_circle: bool = False
    ) -> None:
        self.mode = mode
        self.fps = fps
        self.whole_circle = whole_circle
        self.set_geometry(x_threshold, length)
        self.pygame = _import_pygame()
        self.surface = self.pygame.Surface((SCREEN_WIDTH, SCREEN_HEIGHT))
        self.window: FrameWindow | None = None  # opened by the first show()

    def set_geometry(self, x_threshold: float, length: float) -> None:
        """Scale the drawing to a track of +-``x_threshold`` and a half pole of ``length`` (per episode or sub-env)."""
        self.scale = SCREEN_WIDTH / (2 * x_threshold)  # the whole track fills the width
        self.track_y = _TRACK_Y
        self.track_stops = self.whole_circle
        if self.whole_circle:
            self.track_y = SCREEN_HEIGHT // 2
            # the pole turns about the axle: the room above and below it, less a margin, is the pole's length; and
            # the circle about a cart at either end of the track fits the width
            room = min(self.track_y - _AXLE_RISE, SCREEN_HEIGHT - self.track_y + _AXLE_RISE) - _CIRCLE_MARGIN_PX
            width = (SCREEN_WIDTH - 2 * _CIRCLE_MARGIN_PX) / (2 * (x_threshold + 2 * length))
            self.scale = min(room / (2 * length), width)
        self.x_threshold = x_threshold
        self.pole_px = self.scale * 2 * length

    def draw(self, x: float, theta: float, force_fraction: float | None = None) -> Any:
        """Draw the state on the off-screen surface and return it; ``force_fraction`` in [-1, 1] adds an arrow."""
        pygame = self.pygame
        gfxdraw = pygame.gfxdraw
        surf = self.surface
        surf.fill(_BACKGROUND)
        if self.track_stops:  # the track's extent, so that leaving it is visible
            left, right = (round(SCREEN_WIDTH / 2 + side * self.x_threshold * self.scale) for side in (-1, 1))
            gfxdraw.hline(surf, left, right, self.track_y, (0, 0, 0))
            for end in (left, right):
                gfxdraw.vline(surf, end, self.track_y - _STOP_PX, self.track_y + _STOP_PX, (0, 0, 0))
        else:
            gfxdraw.hline(surf, 0, SCREEN_WIDTH, self.track_y, (0, 0, 0))

        cart_x = x * self.scale + SCREEN_WIDTH / 2
        cart_top = self.track_y - _CART_H / 2
        cart = [
            (cart_x - _CART_W / 2, cart_top),
            (cart_x + _CART_W / 2, cart_top),
            (cart_x + _CART_W / 2, cart_top + _CART_H),
            (cart_x - _CART_W / 2, cart_top + _CART_H),
        ]
        _fill(gfxdraw, surf, cart, _CART_COLOUR)

        axle = pygame.math.Vector2(cart_x, cart_top + _CART_H / 4)
        half = _POLE_W / 2
        corners = [(-half, half), (-half, -self.pole_px + half), (half, -self.pole_px + half), (half, half)]
        pole = [axle + pygame.math.Vector2(c).rotate_rad(theta) for c in corners]
        _fill(gfxdraw, surf, pole, _POLE_COLOUR)
        gfxdraw.aacircle(surf, int(axle.x), int(axle.y), int(half), _AXLE_COLOUR)
        gfxdraw.filled_circle(surf, int(axle.x), int(axle.y), int(half), _AXLE_COLOUR)

        if force_fraction is not None and force_fraction != 0.0:
            self._draw_arrow(cart_x, cart_top + _CART_H / 2, force_fraction)
        return surf

    def _draw_arrow(self, cart_x: float, y: float, force_fraction: float) -> None:
        """A horizontal arrow from the cart's side, pointing along the force, as long as the force is strong."""
        direction = 1.0 if force_fraction > 0 else -1.0
        start = cart_x + direction * _CART_W / 2
        tip = start + direction * _ARROW_MAX_PX * min(abs(force_fraction), 1.0)
        head = direction * min(12.0, abs(tip - start))
        shaft = [(start, y - 3), (tip - head, y - 3), (tip - head, y + 3), (start, y + 3)]
        _fill(self.pygame.gfxdraw, self.surface, shaft, _ARROW_COLOUR)
        _fill(self.pygame.gfxdraw, self.surface, [(tip - head, y - 9), (tip, y), (tip - head, y + 9)], _ARROW_COLOUR)

    def rgb_array(self) -> np.ndarray:
        """The current surface as a fresh, C-contiguous (400, 600, 3) uint8 array."""
        # tobytes copies rows as they are: 4x faster than surfarray.array3d, whose (x, y) layout needs a transpose
        # that left every later copy of the frame a slow strided one
        data = self.pygame.image.tobytes(self.surface, "RGB")
        return np.frombuffer(data, np.uint8).reshape(SCREEN_HEIGHT, SCREEN_WIDTH, 3).copy()

    def show(self) -> None:
        """Show the surface in the window (opened on the first call) at ``fps`` frames per second."""
        if self.window is None:
            self.window = FrameWindow(fps=self.fps)
        self.window.show_surface(self.surface)

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None


def _fill(gfxdraw: Any, surface: Any, points: list[Any], colour: tuple[int, int, int]) -> None:
    gfxdraw.aapolygon(surface, points, colour)
    gfxdraw.filled_polygon(surface, points, colour)


def overlay_text(frame: np.ndarray, lines: Sequence[str], origin: tuple[int, int] = (8, 6)) -> np.ndarray:
    """A copy of an RGB frame (H, W, 3) with ``lines`` written top to bottom from ``origin`` (pixels from top-left)."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be a uint8 array of shape (H, W, 3), got {frame.dtype} {frame.shape}")
    pygame = _import_pygame()
    canvas = np.array(frame, order="C")  # a fresh, contiguous copy that the surface below draws into
    surface = pygame.image.frombuffer(canvas, (canvas.shape[1], canvas.shape[0]), "RGB")
    font = _overlay_font()
    x, y = origin
    for line in lines:
        surface.blit(font.render(line, True, _TEXT_COLOUR), (x, y))
        y += font.get_linesize()
    return canvas


@functools.cache
def _overlay_font() -> Any:
    pygame = _import_pygame()
    pygame.font.init()  # the font module only: pygame.init() would start audio and joysticks too
    return pygame.font.Font(None, _TEXT_PX)  # None: the font bundled with pygame, the same on every machine


class WindowError(RuntimeError):
    """A window could not be opened, typically because there is no display."""


@dataclass(frozen=True)
class KeyEvent:
    """A key going down (``pressed``) or up in a ``FrameWindow``, named as pygame names it ("left", "right",
    "escape", ...); closing the window gives ``KeyEvent("quit")``."""

    key: str
    pressed: bool = True

    @property
    def quits(self) -> bool:
        return self.pressed and self.key in ("quit", "escape")


class FrameWindow:
    """A window that shows RGB frames at ``fps`` frames per second; frames too big for the screen are scaled down.

    ``events()`` returns the key events since its last call; call it once per frame so the window stays responsive.
    """

    def __init__(self, title: str = "CartPole", fps: float = RENDER_FPS) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.title = title
        self.fps = fps
        self.pygame = _import_pygame()
        self.window: Any = None
        self.clock: Any = None

    def show(self, frame: np.ndarray) -> None:
        """Draw ``frame`` (H, W, 3 uint8) in the window, opened on the first call, then wait for the next tick."""
        height, width = frame.shape[:2]
        image = self.pygame.image.frombuffer(np.ascontiguousarray(frame, dtype=np.uint8), (width, height), "RGB")
        self.show_surface(image)

    def show_surface(self, image: Any) -> None:
        """``show`` for a pygame surface."""
        pygame = self.pygame
        # pygame has one display: another window's close() may have shut it, so open it again when needed
        if self.window is None or not pygame.display.get_init() or pygame.display.get_surface() is None:
            try:
                pygame.display.init()
                pygame.display.set_caption(self.title)
                self.window = pygame.display.set_mode(_fit_to_desktop(pygame, *image.get_size()))
            except pygame.error as error:
                raise WindowError(f"cannot open a window: {error} (is a display available?)") from error
            self.clock = pygame.time.Clock()
        pygame.event.pump()  # without this the OS marks the window as frozen
        if image.get_size() != self.window.get_size():
            image = pygame.transform.smoothscale(image, self.window.get_size())
        self.window.blit(image, (0, 0))
        pygame.display.flip()
        self.clock.tick(self.fps)

    def events(self) -> list[KeyEvent]:
        if self.window is None:
            return []
        pygame = self.pygame
        events = []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                events.append(KeyEvent("quit"))
            elif event.type in (pygame.KEYDOWN, pygame.KEYUP):
                events.append(KeyEvent(pygame.key.name(event.key), pressed=event.type == pygame.KEYDOWN))
        return events

    def close(self) -> None:
        if self.window is not None:
            self.pygame.display.quit()
            self.window = None


def _fit_to_desktop(pygame: Any, width: int, height: int) -> tuple[int, int]:
    desktops = pygame.display.get_desktop_sizes()
    if not desktops:
        return width, height
    desk_width, desk_height = desktops[0]
    scale = min(1.0, _SCREEN_FILL * desk_width / width, _SCREEN_FILL * desk_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))
