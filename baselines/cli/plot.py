"""``cartpole-baselines plot DIR``: draw figures from CSV files alone, a comparison's or one run's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from baselines.cli.common import CliError, Directory

NAME = "plot"
HELP = (
    "draw figures from CSV files alone, no torch or SB3 needed: for a 'compare' directory DIR/learning_curves.png "
    "(IQM over seeds with a 95% bootstrap band) and DIR/statistics.png (IQM of the test return and of the steps to "
    "solve with 95% intervals, and the performance profile); for a run directory written by 'train' "
    "DIR/learning_curve.png"
)


@dataclass(frozen=True)
class Plot:
    dir: tyro.conf.Positional[Directory]  # directory written by 'compare', or a run directory written by 'train'
    out: Annotated[Path | None, tyro.conf.arg(metavar="IMAGE")] = None
    """image path, .png .svg .pdf or .jpg (default: in DIR); a comparison's statistics figure goes beside it as
    <name>_statistics.<ext>"""

    def run(self) -> int:
        from baselines.plotting import PlotError, plot_directory, plot_run
        from baselines.runs import CONFIG_FILE

        try:
            config = self.dir / CONFIG_FILE
            if config.exists() or config.is_symlink():  # a run directory, whatever its config is (read bounded)
                paths: tuple[Path, ...] = (plot_run(self.dir, self.out),)
            else:
                paths = plot_directory(self.dir, self.out)
        except PlotError as error:
            raise CliError(str(error)) from error
        except OSError as error:  # a full or read-only disk: the old images are untouched (atomic writes)
            raise CliError(f"cannot write the figures: {error}") from error
        print(f"wrote {' and '.join(str(path) for path in paths)}")
        return 0


def command_type() -> type:
    return Plot
