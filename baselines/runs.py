"""A training run's directory: what it holds, written so that nothing is lost.

``DIR/config.json``   what was run (algorithm, env id as given, the config dataclass), written before training;
``DIR/metrics.csv``   one row per evaluation, rewritten after every evaluation;
``DIR/policy.safetensors``       the "last" checkpoint, saved after every evaluation (so Ctrl-C keeps the latest);
``DIR/best_policy.safetensors``  the "best" checkpoint: highest 100-episode confirmation mean (the latest policy
                                 until a confirmation has run); what ``evaluate``, ``render`` and ``load_policy``
                                 use by default, and what the final test measures;
``DIR/summary.json``  the outcome, written at the end, also when training is interrupted or fails; ``test_*`` is
                      the held-out test of the run's ``test_checkpoint``, its final return.

Every file is written atomically (``baselines.atomic``). ``train_run`` is the Python entry point the CLI (and
``compare``'s workers) use.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from baselines import tensorboard_log as tensorboard
from baselines.algorithms import BEST, CHECKPOINT_FILES, LAST, get_algorithm
from baselines.atomic import atomic_write_text, process_alive, remove_stale_temporaries
from baselines.bounded_read import RUN_JSON_BYTES, FileRefused, read_json
from baselines.training import EvalRecord, TrainingMonitor, TrainResult

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
METRICS_COLUMNS = ("env_steps", "wall_seconds", "eval_return_mean", "eval_return_std")
RUN_FORMAT = "continuous-cartpole-run/1"
RUN_FILES = (CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, *CHECKPOINT_FILES.values())  # every file a run writes
# The held-out test in summary.json (``compare`` reads these names); ``None`` unless the run finished.
TEST_KEYS = ("test_return_mean", "test_return_std", "test_return_min", "test_episodes", "test_checkpoint")

FINISHED, INTERRUPTED, FAILED = "finished", "interrupted", "failed"


class RunError(ValueError):
    """A run that cannot start or be read: a non-empty or unwritable output directory, bad evaluation settings,
    a folder that is not a run."""


def check_run_dir(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Refuse an output path that is a file, or a non-empty directory without ``overwrite``; changes nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunError(f"output path {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise RunError(f"output directory {path} exists and is not empty; pass --overwrite to replace the run in it")
    return path


def prepare_run_dir(path: str | os.PathLike[str], overwrite: bool, owned_files: Iterable[str]) -> Path:
    """Create ``path`` or accept it empty; with ``overwrite``, delete the files a run writes (``owned_files``, and
    their temporary files).

    Overwriting deletes only those file names, never anything else: ``--out . --overwrite`` must not wipe a folder.
    """
    path = check_run_dir(path, overwrite)
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name in owned_files:
            (path / name).unlink(missing_ok=True)
            remove_stale_temporaries(path / name)  # of a process killed mid-write; a live writer's are kept
    except OSError as error:
        raise RunError(f"cannot prepare output directory {path}: {error}") from error
    if not os.access(path, os.W_OK):
        raise RunError(f"output directory {path} is not writable")
    return path


def write_json(path: Path, data: dict[str, Any]) -> None:
    # allow_nan=False: a NaN return must fail loudly here, not become an invalid JSON token
    atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def read_run_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run's ``config.json``; ``RunError`` naming the file when it is missing or unreadable."""
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise RunError(f"run directory {run_dir} does not exist")
    if not path.exists() and not path.is_symlink():
        raise RunError(f"{run_dir} is not a run directory: {path} does not exist")
    try:
        config = read_json(path, RUN_JSON_BYTES, "run config")
    except FileRefused as error:
        raise RunError(str(error)) from None
    if not isinstance(config, dict) or not all(key in config for key in ("algo", "env_id", "config")):
        raise RunError(f"run config {path} lacks the keys algo, env_id and config")
    problem = _run_config_problem(config)
    if problem:
        raise RunError(f"run config {path}: {problem}; it was not written by 'train' or was edited")
    return config


MAX_SEED = 2**63 - 1


def _run_config_problem(config: dict[str, Any]) -> str | None:
    """What is wrong with the types of a config.json's fields, or None."""
    for key in ("algo", "env_id"):
        if not isinstance(config[key], str) or not config[key]:
            return f"{key} must be a non-empty string, got {config[key]!r}"
    package = config.get("gym_package")
    if package is not None and not (isinstance(package, str) and all(p.isidentifier() for p in package.split("."))):
        return f"gym_package must be a module name, got {package!r}"
    if not isinstance(config["config"], dict):
        return f"config must be a JSON object, got {type(config['config']).__name__}"
    seed = config["config"].get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        return f"config.seed must be an integer in 0..{MAX_SEED}, got {seed!r}"
    return None


def read_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / SUMMARY_FILE
    if not path.exists() and not path.is_symlink():
        raise RunError(f"run {run_dir} has no {SUMMARY_FILE} (training still running, or never started)")
    try:
        return read_json(path, RUN_JSON_BYTES, "run summary")
    except FileRefused as error:
        raise RunError(str(error)) from None


def format_metrics(records: Iterable[EvalRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(METRICS_COLUMNS)
    for record in records:
        writer.writerow([getattr(record, column) for column in METRICS_COLUMNS])
    return buffer.getvalue()


class RunWriter:
    """Writes one run's files; ``on_evaluation`` plugs into ``TrainingMonitor(on_evaluation=...)``."""

    def __init__(self, path: Path, save_policy: Callable[[Any, Path, str], Path]) -> None:
        self.path = path
        self._save_policy = save_policy
        self.records: list[EvalRecord] = []
        self.checkpoint: Path | None = None
        self.finished = False

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.path / CONFIG_FILE, config)

    def on_evaluation(self, record: EvalRecord, policy: Any, is_best: bool) -> None:
        # Checkpoints first: the last metrics row then never describes a policy that was not saved.
        self.checkpoint = self._save_policy(policy, self.path, LAST)
        if is_best:
            self._save_policy(policy, self.path, BEST)
        self.records.append(record)
        atomic_write_text(self.path / METRICS_FILE, format_metrics(self.records))

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.path / SUMMARY_FILE, summary)


def train_run(
    algo: str,
    config: Any,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    env_id: str | None = None,
    device: str | None = None,
    extra_config: dict[str, Any] | None = None,
    tensorboard_log: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train ``config`` with algorithm ``algo`` into the run directory ``out``; returns the summary.

    ``env_id`` is the id as the user gave it (maybe ``module:EnvId``; ``config.env_id`` must be the registered id,
    which the monitor looks up), stored for ``evaluate``. ``device`` is the resolved device for the summary.
    ``tensorboard_log`` also writes the run's scalars as the TensorBoard run ``tensorboard_log/ALGO/ENV/seedS``.
    On KeyboardInterrupt or an exception the summary is written with what exists (status ``interrupted`` or
    ``failed``) and the exception propagates.

    ``overwrite`` of a directory that holds a run builds the new run in a hidden folder inside it and swaps its files
    in at the end: the new run replaces the old one once it has evaluated at least once (an interrupted or failed
    new run with a checkpoint replaces it too, as without an old run); a new run that stops before its first
    evaluation leaves the old run as it was.
    """
    algorithm = get_algorithm(algo)
    out = check_run_dir(out, overwrite)
    # Everything is checked before the directory is touched: a bad config, TensorBoard or its log folder neither
    # creates the directory nor harms the old run in it.
    from baselines.devices import warm_up_torch  # every algorithm here trains with torch

    warm_up_torch()  # before the monitor's clock starts
    try:
        monitor = TrainingMonitor.from_config(config, on_evaluation=None)
    except ValueError as error:
        raise RunError(f"invalid evaluation settings: {error}") from error
    if tensorboard_log is not None:
        monitor.scalars = _open_tensorboard(tensorboard_log, algo, config.env_id, config.seed)
    try:
        build = _build_dir(out, overwrite)
    except BaseException:
        if monitor.scalars is not None:
            monitor.scalars.close()
        raise
    writer = RunWriter(build, algorithm.save_policy)
    monitor.on_evaluation = writer.on_evaluation
    try:
        return _train(algorithm, algo, config, monitor, writer, env_id or config.env_id, device, extra_config)
    finally:
        if monitor.scalars is not None:
            monitor.scalars.close()
        if build != out:
            _swap_in(build, out, keep_new=bool(writer.records) or writer.finished)


def _open_tensorboard(root: str | os.PathLike[str], algo: str, env_id: str, seed: int) -> Any:
    try:
        return tensorboard.open_writer(root, algo, env_id, seed)
    except ValueError as error:
        raise RunError(str(error)) from error
    except OSError as error:
        if error.errno not in _BAD_PATH_ERRORS:  # a full or read-only disk: the machine's refusal, not the user's
            raise
        raise RunError(f"--tensorboard-log {root}: cannot create its run folder: {error.strerror or error}") from None


_BAD_PATH_ERRORS = (errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP)


def _train(
    algorithm: Any,
    algo: str,
    config: Any,
    monitor: TrainingMonitor,
    writer: RunWriter,
    env_id: str,
    device: str | None,
    extra_config: dict[str, Any] | None,
) -> dict[str, Any]:
    writer.write_config(
        {
            "format": RUN_FORMAT,
            "algo": algo,
            "env_id": env_id,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": asdict(config),
            **(extra_config or {}),
        }
    )
    base = {"algo": algo, "env_id": env_id, "seed": config.seed, "device": device or config.device}
    try:
        with monitor:  # closes the progress bar on Ctrl-C and errors too
            result = algorithm.load_module().train(config, monitor)
    except KeyboardInterrupt:
        writer.write_summary(_summary(base, monitor, writer, INTERRUPTED))
        raise
    except Exception as error:
        writer.write_summary(_summary(base, monitor, writer, FAILED, error=f"{type(error).__name__}: {error}"))
        raise
    summary = {**_summary(base, monitor, writer, FINISHED, wall_seconds=result.wall_seconds), **_test(result)}
    writer.write_summary(summary)
    writer.finished = True
    return summary


_BUILD_PREFIX = ".overwrite-"


def _build_dir(out: Path, overwrite: bool) -> Path:
    """Where the new run is written: ``out`` itself, unless it holds a run to overwrite; then a hidden folder in it,
    swapped in at the end (``_swap_in``), so that no failure before the new run's first evaluation loses the old one."""
    if overwrite and out.is_dir():
        for leftover in out.glob(f"{_BUILD_PREFIX}*"):  # of an overwrite killed with SIGKILL
            writer = leftover.name[len(_BUILD_PREFIX) :].partition("-")[0]
            if leftover.is_dir() and not leftover.is_symlink() and writer.isdigit() and not process_alive(int(writer)):
                # Killed mid-swap (the old summary is gone, the new one not yet moved): finish it, else the new
                # run's files still in the build would be lost along with the old run's.
                mid_swap = (leftover / SUMMARY_FILE).is_file() and not (out / SUMMARY_FILE).exists()
                _swap_in(leftover, out, keep_new=mid_swap, finish=True)
    has_run = out.is_dir() and any((out / name).exists() or (out / name).is_symlink() for name in RUN_FILES)
    if not (overwrite and has_run):
        return prepare_run_dir(out, overwrite, RUN_FILES)
    build = out / f"{_BUILD_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        build.mkdir()
    except OSError as error:
        raise RunError(f"cannot prepare output directory {out}: {error}") from error
    return build


def _swap_in(build: Path, out: Path, keep_new: bool, *, finish: bool = False) -> None:
    """Replace the old run's files with the new run's (``keep_new``: it evaluated at least once), else keep the old
    run; then remove ``build``. The old summary goes first and the new one comes last: no reader ever takes a mix
    of the two runs for a finished run. Ctrl-C and SIGTERM wait until the swap is done. A process killed mid-swap
    (SIGKILL) leaves the new summary in the build; the next overwrite finishes the swap (``finish``: move what is
    left), which is complete because old files the new run lacks are deleted before any new file moves."""
    with _signals_deferred():
        if keep_new:
            (out / SUMMARY_FILE).unlink(missing_ok=True)
            if not finish:
                for name in RUN_FILES:
                    if not (build / name).exists():
                        (out / name).unlink(missing_ok=True)
            for name in (*(name for name in RUN_FILES if name != SUMMARY_FILE), SUMMARY_FILE):
                if (build / name).exists():
                    os.replace(build / name, out / name)
            for name in RUN_FILES:  # temporaries of the old run's killed writers
                remove_stale_temporaries(out / name)
        shutil.rmtree(build, ignore_errors=True)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back during the block; the first that came meanwhile is raised after it.

    Python-level handlers, not ``pthread_sigmask``: a mask blocks only the calling thread, and the kernel hands a
    process's signal to any thread that does not block it (torch's, TensorBoard's)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    received: list[int] = []
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, lambda signum, _: received.append(signum)) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if received:
            signal.raise_signal(received[0])  # to the handler the process had: KeyboardInterrupt, exit 143, ...


def _summary(
    base: dict[str, Any],
    monitor: TrainingMonitor,
    writer: RunWriter,
    status: str,
    error: str | None = None,
    wall_seconds: float | None = None,
) -> dict[str, Any]:
    """The outcome from what exists: after an interruption, the checkpoint and metrics of the last evaluation."""
    last = writer.records[-1] if writer.records else None
    solved = monitor.solved
    return {
        **base,
        "status": status,
        "error": error,
        "env_steps": monitor.env_steps,
        "wall_seconds": monitor.elapsed() if wall_seconds is None else wall_seconds,
        "eval_return_mean": None if last is None else last.eval_return_mean,
        "eval_return_std": None if last is None else last.eval_return_std,
        "solved_env_steps": None if solved is None else solved.env_steps,
        "solved_wall_seconds": None if solved is None else solved.wall_seconds,
        "reward_threshold": monitor.reward_threshold,
        "evaluations": len(writer.records),
        "checkpoint": None if writer.checkpoint is None else writer.checkpoint.name,
        "checkpoint_env_steps": None if last is None else last.env_steps,
        "best_env_steps": None if monitor.best is None else monitor.best.env_steps,
        "confirmations": [_confirmation(record) for record in monitor.confirmations],
        # No test after an interruption or a failure: only a finished run's summary has one.
        **dict.fromkeys(TEST_KEYS),
    }


def _confirmation(record: EvalRecord) -> dict[str, Any]:
    stats = record.confirmation
    assert stats is not None
    return {"env_steps": record.env_steps, "return_mean": stats.mean, "return_std": stats.std, "return_min": stats.min}


def _test(result: TrainResult) -> dict[str, Any]:
    return {key: getattr(result, key) for key in TEST_KEYS}


def load_run_policy(run_dir: str | os.PathLike[str], checkpoint: str = BEST) -> Any:
    """``baselines.load_policy``: the policy of ``run_dir``'s ``checkpoint``, its algorithm named by ``config.json``."""
    run_config = read_run_config(run_dir)
    try:
        algorithm = get_algorithm(run_config["algo"])
    except ValueError as error:
        raise RunError(f"run {run_dir}: {error}") from error
    return algorithm.load_policy(run_dir, checkpoint)
