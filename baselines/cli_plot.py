"""``cartpole-baselines plot DIR``: redraw a comparison's figures from its CSV files alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from baselines.cli_common import CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="redraw a comparison's learning curves and statistics figures from its CSV files",
        description="Read DIR/results.csv and DIR/learning_curves.csv (written by 'compare') and draw "
        "DIR/learning_curves.png (IQM over seeds with a 95% bootstrap band) and DIR/statistics.png (IQM of the "
        "test return and of the steps to solve with 95% intervals, and the performance profile); no run "
        "directory, torch or SB3 is needed.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="directory written by 'compare'")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="IMAGE",
        help="learning-curves image, .png .svg .pdf or .jpg (default: DIR/learning_curves.png); the statistics "
        "figure goes beside it as <name>_statistics.<ext>",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from baselines.plotting import PlotError, plot_directory

    try:
        paths = plot_directory(args.dir, args.out)
    except PlotError as error:
        raise CliError(str(error)) from error
    except OSError as error:  # a full or read-only disk: the old images are untouched (atomic writes)
        raise CliError(f"cannot write the figures: {error}") from error
    print(f"wrote {' and '.join(str(path) for path in paths)}")
    return 0
