"""``cartpole-baselines compare``: algorithms x envs x seeds in parallel, one results table and one plot."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from baselines.algorithms import ALGORITHMS
from baselines.cli_common import CliError
from baselines.compare import FULL_SEEDS, QUICK_EXCLUDED

DEVICES = ("cpu", "auto", "cuda")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from continuous_cartpole import ENV_IDS

    parser = subparsers.add_parser(
        "compare",
        help="train every algorithm on every env over several seeds; write a results table and learning curves",
        description="Run the matrix algorithms x envs x seeds in parallel worker processes (one torch thread each) "
        "and write results.csv, results.md (interquartile means over seeds with 95% bootstrap intervals, solve "
        "rates with Wilson intervals), learning_curves.csv, learning_curves.png and statistics.png into --out. "
        "Re-running into the same --out resumes: finished runs are skipped, failed and damaged ones redone. One "
        "compare at a time per --out.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory (new, or to resume)")
    parser.add_argument(
        "--algos",
        nargs="+",
        choices=list(ALGORITHMS),
        metavar="ALGO",
        help=f"algorithms (default: all: {' '.join(ALGORITHMS)}; with --quick all but the slow off-policy "
        f"{' '.join(QUICK_EXCLUDED)}); pairs with an unsupported env are skipped",
    )
    parser.add_argument(
        "--envs", nargs="+", default=list(ENV_IDS), metavar="ID", help=f"env ids (default: {' '.join(ENV_IDS)})"
    )
    parser.add_argument(
        "--seeds", type=int, metavar="N", help=f"seeds 0..N-1 per pair (default: {FULL_SEEDS}, or 2 with --quick)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small budgets, 2 seeds, and no {', '.join(QUICK_EXCLUDED)} (slow off-policy learners) unless "
        "--algos names them: the table and the plots in a few minutes",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="K",
        help="parallel worker processes (default: the CPU count)",
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run on the Ray cluster whose head is at HOST:PORT (run compare on a node of it, e.g. the head), or "
        "'local' for a Ray instance on this machine; one task per run, retried elsewhere when its node dies; "
        '--workers is then unused (needs pip install "continuous-cartpole[ray]")',
    )
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="torch device of every run (default: cpu)")
    parser.add_argument(
        "--eval-every", type=int, default=None, metavar="N", help="env steps between evaluations (default: 2000)"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=20, metavar="N", help="episodes per evaluation, >= 20 (default: 20)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from baselines.compare import EVAL_EVERY, QUICK_SEEDS, RESULTS_MD, CompareError, compare, default_algos
    from baselines.plotting import CURVES_PNG, RESULTS_CSV, STATISTICS_PNG, PlotError
    from baselines.runs import FINISHED

    seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else FULL_SEEDS)
    try:
        rows = compare(
            args.out,
            args.algos if args.algos is not None else default_algos(args.quick),
            args.envs,
            seeds,
            quick=args.quick,
            workers=args.workers,
            device=args.device,
            eval_every=args.eval_every if args.eval_every is not None else EVAL_EVERY,
            eval_episodes=args.eval_episodes,
            progress=not args.no_progress,
            ray_address=args.ray,
        )
    except (CompareError, PlotError) as error:
        raise CliError(str(error)) from error
    except OSError as error:  # a full or read-only disk: files written before are untouched (atomic writes)
        raise CliError(f"cannot write into {args.out}: {error}") from error
    print((args.out / RESULTS_MD).read_text(encoding="utf-8"))
    print(
        f"wrote {args.out / RESULTS_CSV}, {args.out / RESULTS_MD}, {args.out / CURVES_PNG} and "
        f"{args.out / STATISTICS_PNG}"
    )
    unfinished = sum(row["status"] != FINISHED for row in rows)
    if unfinished:
        print(f"{unfinished} of {len(rows)} runs did not finish (reasons above); re-run the command to retry them")
        return 1
    return 0
