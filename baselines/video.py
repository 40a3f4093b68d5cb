"""Writing RGB frames to a GIF (pillow) or an MP4 (imageio's ffmpeg plugin, the ``video`` extra), chosen by extension.

Frames stream to disk one at a time, so a long rollout or a big grid never sits in memory. The video appears at its
path only when complete: it is written to a temporary file beside it and renamed (``baselines.atomic``); any error,
Ctrl-C included, removes the temporary file and leaves an older video at that path untouched. A full disk is the
``OSError`` (ENOSPC) it is elsewhere, naming the video, whichever writer met it.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

from baselines.atomic import atomic_path

VIDEO_EXTENSIONS = (".gif", ".mp4")
MP4_EXTRA_HINT = 'pip install "continuous-cartpole[video]"  (imageio with its ffmpeg plugin)'


class VideoError(ValueError):
    """A video that cannot be written: unknown extension, unusable path, no frames or frames of mixed shapes."""


def check_video_path(path: str | os.PathLike[str]) -> Path:
    """Refuse a path we could not write a video to, before any frame is made; changes nothing.

    MP4 also needs imageio with ffmpeg: ``DependencyNotInstalled`` names the extra to install.
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise VideoError(f"unknown video extension {path.suffix or '(none)'!r} in {path}: use .gif or .mp4")
    if path.is_dir():
        raise VideoError(f"cannot write video {path}: it is a folder")
    folder = path.parent
    if not folder.is_dir():
        raise VideoError(f"cannot write video {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VideoError(f"cannot write video {path}: folder {folder} is not writable")
    if path.suffix.lower() == ".mp4":
        _import_imageio()
    return path


def write_video(path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float) -> int:
    """Write every frame (H, W, 3 uint8, all the same shape) to ``path`` at ``fps``; returns the number written."""
    path = check_video_path(path)
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise VideoError(f"fps must be a positive number, got {fps!r}")
    write = _write_gif if path.suffix.lower() == ".gif" else _write_mp4
    try:
        with atomic_path(path) as temporary:
            return write(temporary, _checked_frames(frames), float(fps))
    except OSError as error:  # the disk filled up, or the folder's permissions changed meanwhile: the machine's fault
        if error.errno is None:
            raise VideoError(f"cannot write video {path}: {_first_line(error)}") from None
        raise OSError(error.errno, error.strerror or os.strerror(error.errno), str(path)) from None
    except VideoError as error:
        raise VideoError(f"cannot write video {path}: {error}") from error


def _checked_frames(frames: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    shape: tuple[int, ...] | None = None
    for index, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise VideoError(f"frame {index} must be a uint8 array of shape (H, W, 3), got {frame.dtype} {frame.shape}")
        if shape is None:
            shape = frame.shape
        elif frame.shape != shape:
            raise VideoError(f"frame {index} has shape {frame.shape}, the first frame had {shape}")
        yield frame
    if shape is None:
        raise VideoError("no frames to write")


def _write_gif(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """An endlessly looping GIF, one image per frame (identical frames are kept, not merged as pillow's save does).

    After the first frame only the rectangle that changed is stored, each with its own palette.
    """
    from PIL import GifImagePlugin

    count = 0
    previous: np.ndarray | None = None
    paletted = _Palette()
    with open(path, "wb") as file:
        for count, frame in enumerate(frames, start=1):
            top, bottom, left, right = _changed_box(previous, frame)
            image = paletted(np.ascontiguousarray(frame[top:bottom, left:right]))
            # GIF delays are whole centiseconds: round the running total so the average rate stays exact.
            delay_ms = 10 * (round(count * 100 / fps) - round((count - 1) * 100 / fps))
            if previous is None:
                header, _ = GifImagePlugin.getheader(image, info={"loop": 0, "duration": delay_ms})
                file.writelines(header)
            # disposal 1: the next frame draws over this one, which is what makes storing changes only correct
            data = GifImagePlugin.getdata(
                image, offset=(left, top), duration=delay_ms, disposal=1, include_color_table=True
            )
            file.writelines(data)
            previous = frame
        file.write(b";")  # GIF trailer
    return count


class _Palette:
    """Paletted images for GIF frames: the 256 most frequent colours stay exact (all of them in a frame of one env,
    about 240), rarer ones (antialiased edges in a grid of many tiles) become the nearest kept colour.

    Pillow's quantizers shift even the white background of frames with more than 256 colours, which shows as
    flickering boxes where only part of a frame is stored.
    """

    def __init__(self) -> None:
        self.index_of = np.zeros(1 << 24, np.uint8)  # packed RGB -> palette index; set for every colour in a frame

    def __call__(self, rgb: np.ndarray) -> Any:
        from PIL import Image

        height, width = rgb.shape[:2]
        counted = Image.fromarray(rgb).getcolors(height * width)  # [(count, (r, g, b))]: fast, in C
        counted.sort(key=lambda item: item[0], reverse=True)
        colours = np.array([colour for _, colour in counted], np.int32)
        kept, rare = colours[:256], colours[256:]
        self.index_of[_packed(kept)] = np.arange(len(kept))
        if len(rare):
            distances = ((rare[:, None, :] - kept[None, :, :]) ** 2).sum(axis=2)
            self.index_of[_packed(rare)] = distances.argmin(axis=1)
        image = Image.fromarray(self.index_of[_packed(rgb)])
        image.putpalette(kept.astype(np.uint8).tobytes())  # makes it a "P" image
        return image


def _packed(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _changed_box(previous: np.ndarray | None, frame: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels that differ from ``previous``: the whole frame first, 1 x 1 if none."""
    if previous is None:
        return 0, frame.shape[0], 0, frame.shape[1]
    changed = frame != previous
    # reduce over long contiguous axes first: numpy is slow at reducing the axis of 3 colours pixel by pixel
    rows = np.flatnonzero(changed.reshape(changed.shape[0], -1).any(axis=1))
    if rows.size == 0:
        return 0, 1, 0, 1  # a frame that repeats the last one still counts as a frame
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    cols = np.flatnonzero(changed[top:bottom].any(axis=0).any(axis=1))
    return top, bottom, int(cols[0]), int(cols[-1]) + 1


def _write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    imageio = _import_imageio()
    # H.264 in yuv420p plays everywhere; it needs even sizes, which our 600 x 400 tiles have (macro_block_size=2
    # keeps imageio from resizing them to multiples of 16).
    # ffmpeg's own messages would go straight to the terminal: its failures are reported here, in one line.
    writer = imageio.get_writer(
        path,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        quality=8,
        macro_block_size=2,
        ffmpeg_log_level="quiet",
    )
    count = 0
    try:
        for frame in frames:
            writer.append_data(frame)
            count += 1
    except OSError as error:  # ffmpeg stopped reading: imageio's message holds its whole command line
        _close_quietly(writer)
        raise _ffmpeg_failure(path, error) from None
    except BaseException:
        _close_quietly(writer)  # the error that stopped us matters, not ffmpeg's complaint about it
        raise
    try:
        writer.close()
        _check_mp4(path, count)
    except (OSError, VideoError) as error:
        raise _ffmpeg_failure(path, error) from None
    return count


MIN_FREE_BYTES = 1024 * 1024  # below this, a failed ffmpeg most likely ran out of disk


def _ffmpeg_failure(path: Path, error: Exception) -> Exception:
    """ffmpeg reports no errno: a full disk (seen while the partial video still takes its space) becomes the
    ``OSError`` a full disk gives elsewhere; anything else a ``VideoError`` with the first line of the message."""
    if _free_bytes(path.parent) < MIN_FREE_BYTES:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return error if isinstance(error, VideoError) else VideoError(f"ffmpeg failed: {_first_line(error)}")


def _free_bytes(folder: Path) -> float:
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        return float("inf")
    return stats.f_bavail * stats.f_frsize


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _check_mp4(path: Path, expected_frames: int) -> None:
    """Read the video back: imageio never checks ffmpeg's exit status, so a full disk would go unnoticed."""
    import imageio_ffmpeg

    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError) as error:
        last_line = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise VideoError(f"ffmpeg did not write a playable video ({last_line})") from error
    if frames != expected_frames:
        raise VideoError(f"ffmpeg wrote {frames} of the {expected_frames} frames")


def _close_quietly(writer: Any) -> None:
    with contextlib.suppress(Exception):  # the caller re-raises the error that matters
        writer.close()


def _import_imageio() -> Any:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()  # raises when no ffmpeg binary can be found
    except (ImportError, RuntimeError) as error:
        raise DependencyNotInstalled(f"writing MP4 needs imageio with ffmpeg ({error}): {MP4_EXTRA_HINT}") from error
    return imageio
