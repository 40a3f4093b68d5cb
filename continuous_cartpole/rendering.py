"""pygame drawing of a cart-pole state; pygame is imported here only, when the first frame is drawn."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

SCREEN_WIDTH = 600
SCREEN_HEIGHT = 400
RENDER_FPS = 50

_TRACK_Y = 300  # screen row of the track (pygame's y axis points down)
_CART_W, _CART_H = 50.0, 30.0
_POLE_W = 10.0
_BACKGROUND = (255, 255, 255)
_CART_COLOUR = (0, 0, 0)
_POLE_COLOUR = (202, 152, 101)
_AXLE_COLOUR = (129, 132, 203)
_ARROW_COLOUR = (214, 39, 40)
_ARROW_MAX_PX = 120.0  # arrow length at full force


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
    """Draws frames of 600x400 pixels; in ``human`` mode it also shows them in a window at ``fps``."""

    def __init__(self, mode: str, x_threshold: float, length: float, fps: int = RENDER_FPS) -> None:
        self.mode = mode
        self.fps = fps
        self.scale = SCREEN_WIDTH / (2 * x_threshold)  # the whole track fills the width
        self.pole_px = self.scale * 2 * length
        self.pygame = _import_pygame()
        self.surface = self.pygame.Surface((SCREEN_WIDTH, SCREEN_HEIGHT))
        self.window: Any = None
        self.clock: Any = None

    def draw(self, x: float, theta: float, force_fraction: float | None = None) -> Any:
        """Draw the state on the off-screen surface and return it; ``force_fraction`` in [-1, 1] adds an arrow."""
        pygame = self.pygame
        gfxdraw = pygame.gfxdraw
        surf = self.surface
        surf.fill(_BACKGROUND)
        gfxdraw.hline(surf, 0, SCREEN_WIDTH, _TRACK_Y, (0, 0, 0))

        cart_x = x * self.scale + SCREEN_WIDTH / 2
        cart_top = _TRACK_Y - _CART_H / 2
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
        """The current surface as a fresh (400, 600, 3) uint8 array."""
        return np.transpose(self.pygame.surfarray.array3d(self.surface), (1, 0, 2))

    def show(self) -> None:
        """Copy the surface to the window, keep the window responsive and hold the frame rate."""
        pygame = self.pygame
        # pygame has one display: another env's close() may have shut it, so open it again when needed
        if self.window is None or not pygame.display.get_init() or pygame.display.get_surface() is None:
            pygame.display.init()
            pygame.display.set_caption("CartPole")
            self.window = pygame.display.set_mode((SCREEN_WIDTH, SCREEN_HEIGHT))
            self.clock = pygame.time.Clock()
        pygame.event.pump()  # without this the OS marks the window as frozen
        self.window.blit(self.surface, (0, 0))
        pygame.display.flip()
        self.clock.tick(self.fps)

    def close(self) -> None:
        if self.window is not None:
            self.pygame.display.quit()
            self.window = None


def _fill(gfxdraw: Any, surface: Any, points: list[Any], colour: tuple[int, int, int]) -> None:
    gfxdraw.aapolygon(surface, points, colour)
    gfxdraw.filled_polygon(surface, points, colour)
