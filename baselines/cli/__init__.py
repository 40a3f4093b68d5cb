"""The ``cartpole-baselines`` command (also ``python -m baselines``), built with tyro from dataclasses.

Each subcommand is a module here with a frozen dataclass whose fields are its flags (field comments are the help
text) and whose ``run() -> int`` does the work; ``train ALGO`` takes its flags from the algorithm's config dataclass
in ``baselines.configs``. Nothing on the way to ``--help`` or an argument error imports torch, Stable-Baselines3 or
matplotlib: each ``run`` imports what it needs. User errors (``CliError`` and the package's ``ValueError``\\ s for
runs, checkpoints and diverged training) print one line on stderr and exit with code 2; argument errors are tyro's
messages, also exit code 2. An ``OSError`` (a full or read-only disk) is one line and exit code 1; Ctrl-C is one line
and exit code 130.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from typing import Annotated, Any, Union

import tyro

from baselines.cli import compare, evaluate, play, plot, render, train
from baselines.cli.common import EXIT_USAGE, PROG, CliError

EXIT_FAILURE = 1  # the machine refused (a full or read-only disk): not the user's input
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
DESCRIPTION = "Train, evaluate, watch and compare cart-pole baselines."
SUBCOMMANDS = (train, evaluate, compare, plot, render, play)  # modules with NAME, HELP and COMMAND


def command_type() -> Any:
    """The union tyro parses: one subcommand per module (built per call: tests register extra algorithms)."""
    members = tuple(
        Annotated[module.command_type(), tyro.conf.subcommand(module.NAME, description=module.HELP)]
        for module in SUBCOMMANDS
    )
    return Union[members]  # noqa: UP007  (built at run time from a tuple)


def user_errors() -> tuple[type[Exception], ...]:
    """The errors that mean bad input, not a bug (imported only now: their modules load gymnasium)."""
    from baselines.checkpoint import CheckpointError
    from baselines.evaluation import NonFiniteActions
    from baselines.runs import RunError
    from baselines.training import TrainingDiverged

    return (CliError, RunError, CheckpointError, TrainingDiverged, NonFiniteActions)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    name = f"{PROG} {args[0]}" if args and not args[0].startswith("-") else PROG
    label = PROG  # what an interruption names: the command only once it is parsed
    try:
        command = tyro.cli(
            command_type(),
            args=args,
            prog=PROG,
            description=DESCRIPTION,
            config=(tyro.conf.OmitSubcommandPrefixes,),
            registry=train.registry,
        )
        label = name
        return int(command.run())
    except SystemExit as exit_:  # --help (0) or an argument error (2, tyro printed the message)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM where a command handles it (exit code 143)
        print(f"{label}: interrupted", file=sys.stderr)
        return getattr(interrupt, "exit_code", EXIT_INTERRUPTED)
    except OSError as error:  # e.g. ENOSPC or EROFS while writing a run: the files written so far stay
        print(f"{name}: error: {_describe_os_error(error)}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:
        if not isinstance(error, user_errors()):
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


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
