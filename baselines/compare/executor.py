"""What ``compare`` asks of the thing that trains its runs: ``LocalExecutor`` (worker processes on this machine,
``baselines.compare.execute``) or ``RayExecutor`` (Ray tasks on a cluster, ``baselines.compare.ray_executor``).
Planning, resuming, the lock and the results files are ``compare``'s, the same for both."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from baselines.compare.plan import CompareSettings, RunSpec


class Executor(Protocol):
    def check(self) -> None:
        """Refuse, with a ``CompareError`` naming the fix, what cannot run; called before anything is written."""

    def run(self, root: Path, runs: Sequence[RunSpec], settings: CompareSettings, progress: bool) -> None:
        """Train every run of ``runs`` not finished in ``root`` yet, writing each into its run directory;
        interruptions propagate, with the runs in flight stopped."""
