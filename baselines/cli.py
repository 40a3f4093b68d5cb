"""The ``cartpole-baselines`` command (also ``python -m baselines``).

Each subcommand is a small module with ``add_parser(subparsers) -> None``, which adds its parser and sets
``handler=<function(args) -> int exit code>`` as a default. To add a subcommand, write such a module and list it in
``SUBCOMMANDS``. Keep heavy imports (torch, SB3, pygame) inside the handler so ``--help`` stays fast. Handlers raise
``CliError`` (or ``RunError``/``CheckpointError``/``TrainingDiverged``) for user errors: the message goes to stderr,
exit code 2. An ``OSError`` (a full or read-only disk) is one line and exit code 1; Ctrl-C, also while the
subcommands are still importing, is one line and exit code 130.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
from collections.abc import Sequence

PROG = "cartpole-baselines"
SUBCOMMANDS = (
    "baselines.cli_train",
    "baselines.cli_evaluate",
    "baselines.cli_compare",
    "baselines.cli_plot",
    "baselines.cli_render",
    "baselines.cli_play",
)
EXIT_FAILURE = 1  # the machine refused (a full or read-only disk): not the user's input
EXIT_USAGE = 2  # argparse's code for bad usage; ours for every user error
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Train, evaluate and compare cart-pole baselines.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in SUBCOMMANDS:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Everything but the standard library is imported in here, so that Ctrl-C during the imports is handled too.
    command = PROG
    try:
        from baselines.checkpoint import CheckpointError
        from baselines.cli_common import CliError
        from baselines.evaluation import NonFiniteActions
        from baselines.runs import RunError
        from baselines.training import TrainingDiverged

        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help (0) or a usage error (2, message already printed)
            return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
        command = f"{PROG} {args.command}"
        try:
            return int(args.handler(args))
        except (CliError, RunError, CheckpointError, TrainingDiverged, NonFiniteActions) as error:
            print(f"{command}: error: {error}", file=sys.stderr)
            return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:  # e.g. ENOSPC or EROFS while writing a run: the files written so far stay
        print(f"{command}: error: {_describe_os_error(error)}", file=sys.stderr)
        return EXIT_FAILURE


_OS_ERROR_FIXES = {
    errno.ENOSPC: "free some disk space or write elsewhere",
    errno.EDQUOT: "free some disk space or write elsewhere",
    errno.EROFS: "write to a writable file system",
    errno.EACCES: "write where you have permission",
}


def _describe_os_error(error: OSError) -> str:
    where = f" ({error.filename})" if error.filename else ""
    fix = _OS_ERROR_FIXES.get(error.errno or 0)
    return f"{error.strerror or error}{where}" + (f"; {fix}" if fix else "")
