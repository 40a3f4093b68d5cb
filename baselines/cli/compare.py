"""``cartpole-baselines compare``: algorithms x envs x seeds in parallel, one results table and two figures."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from tyro.conf import arg

from baselines.algorithms import ALGORITHMS
from baselines.cli.common import CliError, Directory, check_compare_numbers

NAME = "compare"
HELP = (
    "train every algorithm on every env over several seeds, in parallel worker processes (one torch thread each), "
    "and write results.csv, results.md (interquartile means over seeds with 95% bootstrap intervals, solve rates "
    "with Wilson intervals), learning_curves.csv, learning_curves.png and statistics.png into --out. Re-running "
    "into the same --out resumes: finished runs are skipped, failed and damaged ones redone. One compare at a time "
    "per --out."
)


# The defaults live in baselines.compare, which loads numpy and gymnasium: tyro calls these only to show the help.
def _algos_hint(_default: str) -> str:
    from baselines.compare import QUICK_EXCLUDED

    return f"(default: all; with --quick all but the slow off-policy {' '.join(QUICK_EXCLUDED)})"


def _seeds_hint(_default: str) -> str:
    from baselines.compare import FULL_SEEDS, QUICK_SEEDS

    return f"(default: {FULL_SEEDS}, or {QUICK_SEEDS} with --quick)"


def _eval_every_hint(_default: str) -> str:
    from baselines.configs import EVAL_EVERY

    return f"(default: {EVAL_EVERY})"


_envs_hint = "(default: both balance ids and the two dense swing-up ids; --quick: the balance ids only)"


@dataclass(frozen=True)
class Compare:
    out: Directory  # output directory (new, or to resume)
    algos: Annotated[tuple[str, ...] | None, arg(metavar="ALGO", help_behavior_hint=_algos_hint)] = None
    """algorithms among the registered ones; pairs with an unsupported env are skipped"""
    envs: Annotated[tuple[str, ...] | None, arg(metavar="ID", help_behavior_hint=_envs_hint)] = None
    """env ids"""
    seeds: Annotated[int | None, arg(metavar="N", help_behavior_hint=_seeds_hint)] = None  # seeds 0..N-1 per pair
    quick: bool = False  # small budgets, 2 seeds and no slow off-policy learners: the table and plots in minutes
    workers: Annotated[int, arg(metavar="K")] = os.cpu_count() or 1  # parallel worker processes
    ray: Annotated[str | None, arg(metavar="ADDRESS")] = None
    """run on the Ray cluster whose head is at HOST:PORT (run compare on a node of it, e.g. the head), or 'local' for a
    Ray instance on this machine; one task per run, retried elsewhere when its node dies; --workers is then unused
    (needs pip install "continuous-cartpole[ray]")"""
    device: Literal["cpu", "auto", "cuda"] = "cpu"  # torch device of every run
    eval_every: Annotated[int | None, arg(metavar="N", help_behavior_hint=_eval_every_hint)] = None
    """env steps between curve evaluations"""
    eval_episodes: Annotated[int, arg(metavar="N")] = 20  # episodes per curve evaluation, >= 20
    progress: bool = True  # show a progress bar
    tensorboard_log: Annotated[Path | None, arg(metavar="DIR")] = None
    """also write every run's curves as TensorBoard scalars, one run per DIR/ALGO/ENV/seedS"""

    def run(self) -> int:
        from baselines.bounded_read import RESULTS_CSV_BYTES, read_text
        from baselines.compare import FULL_SEEDS, QUICK_SEEDS, RESULTS_MD, CompareError, compare, default_algos
        from baselines.compare.plan import default_envs
        from baselines.configs import EVAL_EVERY
        from baselines.plotting import CURVES_PNG, RESULTS_CSV, STATISTICS_PNG, PlotError
        from baselines.runs import FINISHED

        check_compare_numbers(self.seeds, self.eval_episodes)
        unknown = [algo for algo in self.algos or () if algo not in ALGORITHMS]
        if unknown:
            raise CliError(f"unknown algorithm(s) {', '.join(unknown)}; --algos takes {' '.join(ALGORITHMS)}")
        try:
            rows = compare(
                self.out,
                list(self.algos) if self.algos is not None else default_algos(self.quick),
                list(self.envs or default_envs(self.quick)),
                self.seeds if self.seeds is not None else (QUICK_SEEDS if self.quick else FULL_SEEDS),
                quick=self.quick,
                workers=self.workers,
                device=self.device,
                eval_every=self.eval_every if self.eval_every is not None else EVAL_EVERY,
                eval_episodes=self.eval_episodes,
                progress=self.progress,
                tensorboard_log=self.tensorboard_log,
                ray_address=self.ray,
            )
        except (CompareError, PlotError) as error:
            raise CliError(str(error)) from error
        except OSError as error:  # a full or read-only disk: files written before are untouched (atomic writes)
            raise CliError(f"cannot write into {self.out}: {error}") from error
        print(read_text(self.out / RESULTS_MD, RESULTS_CSV_BYTES, "results table"))
        print(
            f"wrote {self.out / RESULTS_CSV}, {self.out / RESULTS_MD}, {self.out / CURVES_PNG} and "
            f"{self.out / STATISTICS_PNG}"
        )
        unfinished = sum(row["status"] != FINISHED for row in rows)
        if unfinished:
            print(f"{unfinished} of {len(rows)} runs did not finish (reasons above); re-run the command to retry them")
            return 1
        return 0


def command_type() -> type:
    return Compare
