"""Atomic file writes: readers see the old file or the new one, never half of one.

Write to a temporary file in the target's directory (same file system, so the rename is atomic), flush it to disk,
then ``os.replace`` it over the target. On any error the temporary file is removed and the old target is untouched.
A process killed mid-write (SIGKILL) cannot remove its temporary file: the temporary's name holds the writer's pid,
and the next write of the same target removes the temporaries whose writer is gone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
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


STALE_SECONDS = 60  # a temporary untouched this long, whose process is gone, was left by a killed writer
_UNKNOWN_WRITER_SECONDS = 24 * 3600  # temporaries named without a pid (older versions): after a day


def _create_temporary(target: Path) -> Path:
    """An empty new file beside ``target``; created with mode 0o666 so the umask applies (mkstemp would give 0o600)."""
    remove_stale_temporaries(target)
    while True:
        temp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files of ``target`` left by writers that were killed (their process is gone)."""
    prefix, suffix = f".{target.name}.", f".tmp{target.suffix}"
    try:
        names = [name for name in os.listdir(target.parent) if name.startswith(prefix) and name.endswith(suffix)]
    except OSError:
        return
    now = time.time()
    for name in names:
        writer = name[len(prefix) : -len(suffix)].partition("-")[0]
        path = target.parent / name
        try:
            age = now - path.lstat().st_mtime
            alive = writer.isdigit() and process_alive(int(writer))
            if age > (STALE_SECONDS if writer.isdigit() else _UNKNOWN_WRITER_SECONDS) and not alive:
                path.unlink()
        except OSError:  # gone already, or not ours to remove
            continue


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):  # no process has such a pid
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


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
