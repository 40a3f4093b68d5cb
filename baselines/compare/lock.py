"""One ``compare`` per output directory: ``DIR/compare.lock`` holds the owner's pid; a stale lock is taken over."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from baselines.compare.plan import LOCK_FILE, CompareError


@contextlib.contextmanager
def directory_lock(root: Path) -> Iterator[None]:
    """Hold ``root/compare.lock`` (our pid) while the block runs; refuse when a live process holds it.

    The lock appears with its content in one step: the pid is written to a temporary file that is then hard-linked
    to the lock's name, which fails when the name exists (as ``O_EXCL`` does). A lock whose process is gone was
    left by a compare that was killed; it is taken over.
    """
    path = root / LOCK_FILE
    while True:
        owner = _lock_owner(path)
        if owner is not None and _process_alive(owner):
            raise CompareError(
                f"{root} is in use by another compare (process {owner}, per {path}); wait for it to end, stop it, "
                f"or use another --out (delete {path} if process {owner} is not a compare)"
            )
        if owner is not None or path.exists():  # stale: its process died without removing it
            path.unlink(missing_ok=True)
        if _create_lock(path):
            break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _create_lock(path: Path) -> bool:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with open(temp, "x", encoding="utf-8") as file:
        file.write(f"{os.getpid()}\n")
    try:
        os.link(temp, path)
    except FileExistsError:
        return False  # another compare got there first; the loop reads its pid
    finally:
        temp.unlink()
    return True


def _lock_owner(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
