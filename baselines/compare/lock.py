"""One ``compare`` per output directory: an OS lock (``flock``) on ``DIR/compare.lock``, which holds the owner's pid.

The operating system grants the lock to one process and takes it back when that process ends, however it ends, so
there is no stale lock to judge: a lock file left by a killed compare is simply locked again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from baselines.bounded_read import LOCK_BYTES, FileRefused, open_checked
from baselines.compare.plan import LOCK_FILE, CompareError

_ATTEMPTS = 100  # each retry means another compare removed the file between our open and our lock


@contextlib.contextmanager
def directory_lock(root: Path) -> Iterator[None]:
    """Hold the lock of ``root`` while the block runs; ``CompareError`` when another process holds it.

    The lock file is opened without following a symbolic link (a link, dangling or looping, is refused with a
    message, never waited on) and must be a small regular file. The owner removes it before it lets go of the lock,
    so a process that locked a file that is no longer at the path tries again on the file now there.
    """
    path = root / LOCK_FILE
    for _ in range(_ATTEMPTS):
        fd = _open_lock_file(path)
        try:
            if not _try_lock(fd):
                owner = _owner(fd)
                raise CompareError(
                    f"{root} is in use by another compare ({owner}, per {path}); wait for it to end, stop it, "
                    "or use another --out"
                )
            if _is_at_path(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # we locked a file another compare had just removed: try the one at the path now
    else:
        raise CompareError(f"could not lock {path}: other processes keep replacing it")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still locked: whoever locks this file next sees it is gone and retries
        os.close(fd)


def _open_lock_file(path: Path) -> int:
    try:
        return open_checked(path, LOCK_BYTES, "compare lock", flags=os.O_RDWR | os.O_CREAT)
    except FileRefused as error:
        raise CompareError(f"{error}; delete it if no compare is running") from None


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: lock the first byte instead
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_at_path(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _owner(fd: int) -> str:
    """ "process PID" as the lock file says (it may be being written), else "another process"."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, LOCK_BYTES).decode("ascii", "replace").strip()
    return f"process {text}" if text.isdigit() else "another process"
