"""Atomic file writes: readers see the old file or the new one, never half of one.

Write to a temporary file in the target's directory (same file system, so the rename is atomic), flush it to disk,
then ``os.replace`` it over the target. On any error the temporary file is removed and the old target is untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block succeeds it replaces ``target`` atomically.

    For libraries that insist on writing to a path themselves (video writers, ``model.save``). The temporary name
    keeps the target's suffix because some writers pick the format from it.
    """
    target = Path(target)
    temp = _create_temporary(target)
    try:
        yield temp
        with open(temp, "rb+") as written:  # the writer may not have flushed to disk
            os.fsync(written.fileno())
        os.replace(temp, target)
    except BaseException:  # KeyboardInterrupt included: never leave the temporary file behind
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as temp, open(temp, "wb") as file:
        file.write(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def _create_temporary(target: Path) -> Path:
    """An empty new file beside ``target``; created with mode 0o666 so the umask applies (mkstemp would give 0o600)."""
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not possible on every platform (Windows), so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
