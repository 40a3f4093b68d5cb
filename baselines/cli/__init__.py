"""The ``cartpole-baselines`` command (also ``python -m baselines``), built with tyro from dataclasses.

Each subcommand is a module here with a frozen dataclass whose fields are its flags (field comments are the help
text) and whose ``run() -> int`` does the work; ``train ALGO`` takes its flags from the algorithm's config dataclass
in ``baselines.configs``. Nothing on the way to ``--help`` or an argument error imports torch, Stable-Baselines3 or
matplotlib: each ``run`` imports what it needs. User errors (``CliError`` and the package's ``ValueError``\\ s for
runs, checkpoints and diverged training) print one line on stderr and exit with code 2; argument errors are tyro's
messages, also exit code 2. An ``OSError`` (a full or read-only disk) is one line and exit code 1; Ctrl-C is one line
and exit code 130; SIGTERM is handled as Ctrl-C is (the command finishes its files: a run's summary, no temporary
files left) and exits 143, except by ``compare``: it keeps SIGTERM's default action and ends at once, as its worker
processes do (a rerun redoes the runs that had not finished). Output into a pipe whose reader has gone (``--help |
head``) ends quietly with exit code 141, as other tools do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Union

import tyro

from baselines.cli import compare, evaluate, play, plot, render, robustness, train
from baselines.cli.common import EXIT_USAGE, PROG, CliError
from baselines.suggestions import did_you_mean

EXIT_FAILURE = 1  # the machine refused (a full or read-only disk): not the user's input
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what shells report for a tool whose reader went away
DESCRIPTION = "Train, evaluate, watch and compare cart-pole baselines."
SUBCOMMANDS = (train, evaluate, robustness, compare, plot, render, play)  # modules with NAME, HELP and COMMAND


def command_type() -> Any:
    """The union tyro parses: one subcommand per module (built per call: tests register extra algorithms)."""
    members = tuple(
        Annotated[module.command_type(), tyro.conf.subcommand(module.NAME, description=module.HELP)]
        for module in SUBCOMMANDS
    )
    return Union[members]  # noqa: UP007  (built at run time from a tuple)


def user_errors() -> tuple[type[Exception], ...]:
    """The errors that mean bad input, not a bug (imported only now: their modules load gymnasium)."""
    from baselines.bounded_read import FileRefused
    from baselines.checkpoint import CheckpointError
    from baselines.evaluation import NonFiniteActions
    from baselines.runs import RunError
    from baselines.training import TrainingDiverged

    return (CliError, RunError, CheckpointError, TrainingDiverged, NonFiniteActions, FileRefused)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so that the same cleanup runs."""


@contextlib.contextmanager
def sigterm_as_interrupt(enabled: bool = True) -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread; a second SIGTERM ends the process at once."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def misspelt_name(args: Sequence[str]) -> str | None:
    """One line for an unknown subcommand or algorithm name, with the closest known one: tyro would answer with a
    box listing every choice and no suggestion."""
    from baselines.algorithms import ALGORITHMS

    if not args or args[0].startswith("-"):
        return None
    commands = [module.NAME for module in SUBCOMMANDS]
    if args[0] not in commands:
        hint = did_you_mean(args[0], commands, quote=True)
        return f"{PROG}: error: unknown command {args[0]!r}{hint}; commands: {', '.join(commands)}"
    if args[0] == train.NAME and len(args) > 1 and not args[1].startswith("-") and args[1] not in ALGORITHMS:
        hint, known = did_you_mean(args[1], ALGORITHMS, quote=True), ", ".join(ALGORITHMS)
        return f"{PROG} train: error: unknown algorithm {args[1]!r}{hint}; known: {known}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    misspelt = misspelt_name(args)
    if misspelt is not None:
        print(misspelt, file=sys.stderr)
        return EXIT_USAGE
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
        # compare's worker processes do not get the parent's SIGTERM: it keeps the default (they exit with it)
        with sigterm_as_interrupt(enabled=not isinstance(command, compare.Compare)):
            return int(command.run())
    except SystemExit as exit_:  # --help (0) or an argument error (2, tyro printed the message)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except KeyboardInterrupt as interrupt:  # Ctrl-C; SIGTERM as Terminated, here or compare's on Ray (exit_code 143)
        terminated = isinstance(interrupt, Terminated) or getattr(interrupt, "exit_code", None) == EXIT_TERMINATED
        print(f"{label}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout's reader went away (`--help | head`): stop quietly, as other Unix tools do
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as error:  # e.g. ENOSPC or EROFS while writing a run: the files written so far stay
        print(f"{name}: error: {_describe_os_error(error)}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:
        if not isinstance(error, user_errors()):
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _discard_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's final flush does not fail on the closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
