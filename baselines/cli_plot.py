"""``cartpole-baselines plot DIR``: redraw a comparison's learning curves from its CSV files alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from baselines.cli_common import CliError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="redraw a comparison's learning_curves.png from its CSV files",
        description="Read DIR/results.csv and DIR/learning_curves.csv (written by 'compare') and draw "
        "DIR/learning_curves.png; no run directory, torch or SB3 is needed.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="directory written by 'compare'")
    parser.add_argument("--out", type=Path, metavar="PNG", help="image path (default: DIR/learning_curves.png)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from baselines.plotting import PlotError, plot_directory

    try:
        path = plot_directory(args.dir, args.out)
    except PlotError as error:
        raise CliError(str(error)) from error
    print(f"wrote {path}")
    return 0
