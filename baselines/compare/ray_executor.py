"""The Ray executor, ``compare --ray``: each run of the matrix is one Ray task, retried on another node when its
node dies.

The driver (the machine running ``compare``) must itself be a node of the cluster, as Ray requires of a driver:
run ``compare`` on the head. Every node needs Python and the same versions of the dependencies as the driver
(``pip install "continuous-cartpole[baselines,ray]"`` installs them). The package's own code need not be installed
on the nodes: the driver ships its ``continuous_cartpole`` and ``baselines`` directories with Ray's runtime
environment (``py_modules``), so every node runs exactly the driver's code. Before the matrix starts, and again with
every result, a node reports a fingerprint (package version, a hash of the code it imported, the versions of Python
and of the libraries that shape the numbers); a node that differs from the driver stops the comparison with a
message naming the difference, instead of mixing results computed by different code.

``--device cuda`` gives each task one GPU; ``auto`` does too on a cluster with GPUs, and trains on the CPU on one
without; ``cpu`` asks for no GPU.

Nodes need not share a file system. A task trains into its own temporary directory (removed when the task ends)
and returns the run's files as bytes; the driver alone writes them into ``DIR/runs/...``, atomically, with the
summary last, so a run directory is complete or treated as unfinished. A task whose node dies is retried on
another node (``max_retries``); a run that fails by itself (an exception in training) is recorded as failed and
not retried. Planning, resuming and the results files are ``compare``'s, the same as with local workers.

Ray is imported only here, and only when a comparison runs on Ray: ``import baselines`` and the local backend
never import it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from baselines.atomic import atomic_write_bytes
from baselines.compare.executor import Terminated
from baselines.compare.plan import WORKER_ERROR_FILE, CompareError, CompareSettings, RunSpec
from baselines.compare.results import is_finished
from baselines.compare.task import (
    POLL_SECONDS,
    budget_steps,
    clear_stale_outcome,
    init_training_process,
    steps_bar,
    train_one,
    write_worker_error,
)
from baselines.runs import FAILED, FINISHED, RUN_FILES, SUMMARY_FILE, prepare_run_dir

LOCAL = "local"  # --ray local: a Ray instance on this machine only
RAY_EXTRA_HINT = 'pip install "continuous-cartpole[ray]"'
START_HINT = "start one with `ray start --head --port 6379` (and `ray start --address HEAD_HOST:6379` on the others)"
NODE_FAILURE_RETRIES = 3  # a run is retried this many times when its node dies, then recorded as failed
TCP_TIMEOUT_S = 5.0  # the head's port must accept a connection within this
CONNECT_DEADLINE_S = 20.0  # --ray HOST:PORT joins the cluster within this, or compare stops with one line
AUTH_MODE_VARIABLE = "RAY_AUTH_MODE"
AUTH_FAILURE_MARKERS = ("InvalidAuthToken", "AuthenticationError", "UNAUTHENTICATED", "Unauthenticated")
# A task's reaper (_task_directory): removes the task's directory once the task's process closes the pipe or dies.
# Started through a launcher that exits at once, so that it is not the task's child: Ray kills a worker's children
# when the worker exits (RAY_kill_child_processes_on_worker_exit), which it does when its raylet dies.
REAPER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"
LAUNCH_REAPER = (
    "import subprocess, sys; "
    "subprocess.Popen([sys.executable, '-I', '-S', '-c', *sys.argv[1:]], start_new_session=True)"
)
# Run in a subprocess by check_ray_address: join the cluster as the driver will, and leave.
JOIN_CHECK = (
    "import sys, ray; ray.init(address=sys.argv[1], logging_level='error', log_to_driver=False); ray.shutdown()"
)
PROBE_TIMEOUT_S = 300.0  # a node's first task installs the runtime environment: allow for a slow file system
TASK_TEMP_PREFIX = "cartpole-run-"
FINGERPRINT_PACKAGES = ("torch", "numpy", "gymnasium", "stable-baselines3", "sb3-contrib", "safetensors")
RETURNED_FILES = (*RUN_FILES, WORKER_ERROR_FILE)  # what a task may send back
OUTCOME_FILES = (SUMMARY_FILE, WORKER_ERROR_FILE)  # written last: their presence says the run is over


# ---- what runs on a node ----


def environment_fingerprint() -> dict[str, str]:
    """What must be equal on the driver and every node for their runs to be the same runs."""
    import continuous_cartpole

    fingerprint = {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "continuous-cartpole": continuous_cartpole.__version__,
        "code": _code_hash(*map(Path, _package_dirs())),
    }
    for package in FINGERPRINT_PACKAGES:
        try:
            fingerprint[package] = version(package)
        except PackageNotFoundError:
            fingerprint[package] = "not installed"
    return fingerprint


def _code_hash(*package_dirs: Path) -> str:
    digest = hashlib.sha256()
    for package_dir in package_dirs:
        for source in sorted(package_dir.rglob("*.py")):
            digest.update(f"{package_dir.name}/{source.relative_to(package_dir).as_posix()}\0".encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def train_on_node(run: RunSpec, settings: CompareSettings, device: str) -> dict[str, Any]:
    """Ray task: train ``run`` in a temporary directory and return its files; a failed run is returned as data."""
    with _task_directory() as temp:
        run_dir = temp / "run"
        try:
            init_training_process()
            outcome = train_one(run, str(run_dir), settings, device)
        except Exception as error:  # train_one records training errors itself; this is anything around it
            reason = f"{type(error).__name__}: {error}"
            write_worker_error(run_dir, reason)
            outcome = {"status": FAILED, "text": f"failed ({reason[:80]})"}
        files = {path.name: path.read_bytes() for path in sorted(run_dir.iterdir()) if _is_run_file(path)}
    return {"fingerprint": environment_fingerprint(), "node": _node_address(), "outcome": outcome, "files": files}


@contextlib.contextmanager
def _task_directory() -> Iterator[Path]:
    """A temporary directory that is removed however this process ends, SIGKILL included.

    A driver killed with SIGKILL takes its tasks' workers with it, killed too: a reaper process, in a session of its
    own and not this process's child, waits for the end of its stdin, which comes when this process closes the pipe
    or dies, and then removes the directory.
    """
    path = Path(tempfile.gettempdir()) / f"{TASK_TEMP_PREFIX}{secrets.token_hex(8)}"
    launcher = subprocess.Popen(  # first: a directory never exists without its reaper
        [sys.executable, "-I", "-S", "-c", LAUNCH_REAPER, REAPER, str(path)], stdin=subprocess.PIPE
    )
    try:
        launcher.wait()
        path.mkdir(mode=0o700)  # as mkdtemp does: private, and never an existing directory
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        launcher.stdin.close()  # type: ignore[union-attr]  # the reaper sees the end of its stdin, and exits


def _is_run_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".")  # a dot: an atomic write's leftover temporary file


def _node_address() -> str:
    import ray

    return ray.util.get_node_ip_address()


# ---- the driver ----


class RayExecutor:
    """``compare``'s executor on the Ray cluster at ``address`` (``baselines.compare.executor.Executor``).

    ``open`` checks the address, joins the cluster (within ``CONNECT_DEADLINE_S`` for a cluster's address) and has
    every node report its fingerprint, so a compare that cannot start writes nothing; ``close`` disconnects.
    """

    def __init__(self, address: str, device: str = "cpu") -> None:
        self.address, self.device = address, device
        self._ray: Any = None
        self._started_here = False
        self._gpus = 0
        self._expected: dict[str, str] = {}
        self._on_sigterm: Any = None
        self._terminated = False

    def open(self) -> None:
        ray = check_ray_address(self.address)
        on_sigterm = signal.getsignal(signal.SIGTERM)
        self._started_here = _connect(ray, self.address)
        self._ray = ray
        if self._started_here and threading.current_thread() is threading.main_thread():
            # ray.init makes SIGTERM exit at once (sys.exit(15)) with Ray's C++ dump; handled as Ctrl-C instead,
            # the tasks are cancelled and remove their directories. Restored by close().
            self._on_sigterm = on_sigterm
            signal.signal(signal.SIGTERM, self._terminate)
        try:
            with self._sigterm_as_terminated():
                self._gpus = gpus_per_task(ray, self.address, self.device)
                self._expected = environment_fingerprint()
                _probe_nodes(ray, self._expected)
        except BaseException:
            self.close()
            raise

    def run(self, root: Path, runs: Sequence[RunSpec], settings: CompareSettings, progress: bool) -> None:
        """Train every run of ``runs`` that is not finished yet, one Ray task per run, and write each run's files
        into its directory under ``root`` as its result arrives; interruptions propagate (the tasks are cancelled)."""
        if self._ray is None:
            raise RuntimeError("RayExecutor.run needs open() first")
        with self._sigterm_as_terminated():
            _run_tasks(self._ray, root, runs, settings, self.device, self._gpus, self._expected, progress)

    def _terminate(self, signum: int, frame: object) -> None:
        self._terminated = True
        raise Terminated

    @contextlib.contextmanager
    def _sigterm_as_terminated(self) -> Iterator[None]:
        """Ray's waits re-raise the exception of a signal handler as a plain KeyboardInterrupt: SIGTERM's again."""
        try:
            yield
        except KeyboardInterrupt as interrupt:
            if self._terminated and not isinstance(interrupt, Terminated):
                raise Terminated from interrupt
            raise

    def close(self) -> None:
        if self._ray is not None and self._started_here:
            self._ray.shutdown()
        if self._on_sigterm is not None:
            signal.signal(signal.SIGTERM, self._on_sigterm)
        self._ray, self._started_here, self._on_sigterm = None, False, None


def run_matrix_on_ray(
    root: Path,
    runs: Sequence[RunSpec],
    settings: CompareSettings,
    address: str,
    device: str = "cpu",
    progress: bool = True,
) -> None:
    """``baselines.compare.execute.run_matrix`` on the Ray cluster at ``address`` (``"local"``: this machine only)."""
    executor = RayExecutor(address, device)
    executor.open()
    try:
        executor.run(root, runs, settings, progress)
    finally:
        executor.close()


def check_ray_address(address: str) -> Any:
    """The ``ray`` module, once Ray is installed and ``address`` is ``"local"`` or the ``HOST:PORT`` of a Ray
    cluster that this process can join (tried in a subprocess, killed after ``CONNECT_DEADLINE_S``).

    Fails within ``CONNECT_DEADLINE_S`` with one line naming the fix, rather than after Ray's own minutes of retries
    (or never, at an address where something other than Ray answers).
    """
    if address != LOCAL:
        use_token_if_available()  # before Ray reads its configuration, at import
    try:
        import ray
    except ImportError as error:
        raise CompareError(f"--ray needs Ray, which is not installed ({error}); {RAY_EXTRA_HINT}") from None
    if address == LOCAL:
        return ray
    host, _, port = address.rpartition(":")
    if "://" in address:
        raise CompareError(
            f"--ray takes HOST:PORT of a Ray cluster's head, got {address!r}; Ray Client (ray://) is not supported: "
            "run compare on a machine of the cluster"
        )
    if not host or not port.isdigit():
        raise CompareError(
            f"--ray takes HOST:PORT of a Ray cluster's head (e.g. 10.0.0.1:6379) or 'local', got {address!r}"
        )
    started = time.monotonic()
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=TCP_TIMEOUT_S).close()
    except OSError as error:
        raise CompareError(f"no Ray cluster answers at {address} ({error}); {START_HINT}, or use --ray local") from None
    _try_joining(address, CONNECT_DEADLINE_S - (time.monotonic() - started))
    return ray


def use_token_if_available() -> None:
    """Send the user's Ray token when there is one, as ``ray start`` and ``ray.init()`` without an address do.

    Ray 2.60 turns token authentication on for a cluster that ``ray start`` creates where a token exists
    (``~/.ray/auth_token``, which any earlier ``ray.init()`` of a local instance writes, ``--ray local`` included),
    but a driver given the cluster's address sends no token unless ``RAY_AUTH_MODE=token``: the README's own steps
    would fail with ``InvalidAuthToken``. ``RAY_AUTH_MODE`` set by the user is respected.
    """
    if AUTH_MODE_VARIABLE in os.environ:
        return
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file():
        os.environ[AUTH_MODE_VARIABLE] = "token"
        if "ray" in sys.modules:  # imported before: make Ray read the variable again, as Ray itself does then
            from ray._raylet import Config

            Config.initialize("")


def _try_joining(address: str, timeout: float) -> None:
    """Join the cluster from a subprocess first: ``ray.init`` may block for minutes, deaf to signals, where
    something other than a Ray head answers, and it prints Ray's C++ warnings; a subprocess can be killed, and its
    output stays its own."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", JOIN_CHECK, address],
            capture_output=True,
            text=True,
            timeout=max(timeout, 1.0),
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        )
    except subprocess.TimeoutExpired as timeout_error:  # Ray retries a refused token for seconds before it gives up
        if _names_an_auth_failure(timeout_error.stdout, timeout_error.stderr):
            raise CompareError(_token_refused(address)) from None
        raise CompareError(
            f"no Ray cluster answers at {address} within {CONNECT_DEADLINE_S:.0f} s (something answers there, but "
            f"not a Ray head, or the cluster's nodes are unreachable from here); {START_HINT}, or use --ray local"
        ) from None
    if result.returncode == 0:
        return
    output = result.stdout + result.stderr
    if _names_an_auth_failure(output):
        raise CompareError(_token_refused(address))
    reason = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
    raise CompareError(f"cannot join the Ray cluster at {address} ({reason}); {START_HINT}, or use --ray local")


def _names_an_auth_failure(*outputs: str | bytes | None) -> bool:
    text = "".join(out.decode(errors="replace") if isinstance(out, bytes) else out or "" for out in outputs)
    return any(marker in text for marker in AUTH_FAILURE_MARKERS)


def _token_refused(address: str) -> str:
    return (
        f"the Ray cluster at {address} refused this machine's token (token authentication): copy the head's "
        "~/.ray/auth_token here (or set RAY_AUTH_TOKEN to its content), or start the cluster with "
        "RAY_AUTH_MODE=disabled on a trusted network"
    )


def _connect(ray: Any, address: str) -> bool:
    """Connect to the cluster (``"local"``: start a fresh instance here); ``False`` if already connected."""
    if ray.is_initialized():
        return False
    runtime_env = {"py_modules": _package_dirs(), "excludes": ["__pycache__"]}
    try:
        ray.init(address=address, runtime_env=runtime_env, logging_level="warning")
    except Exception as error:  # Ray raises ConnectionError, RuntimeError or its own errors, by version
        raise CompareError(f"cannot connect to the Ray cluster at {address} ({_first_line(error)})") from None
    return True


def _package_dirs() -> list[str]:
    """The package's code, as imported here: what the driver ships to the nodes, and what a node hashes."""
    import baselines
    import continuous_cartpole

    return [str(Path(continuous_cartpole.__file__).parent), str(Path(baselines.__file__).parent)]


def gpus_per_task(ray: Any, address: str, device: str) -> int:
    """1 for ``cuda``, and for ``auto`` on a cluster with GPUs; else 0. Refuses a cluster that cannot run a task."""
    resources = ray.cluster_resources()
    if resources.get("CPU", 0) < 1:
        raise CompareError(
            f"the Ray cluster at {address} has no CPU for a task (its nodes were started with --num-cpus 0); "
            "add a node with CPUs: ray start --address HEAD_HOST:PORT"
        )
    has_gpu = resources.get("GPU", 0) >= 1
    if device == "cuda" and not has_gpu:
        raise CompareError(
            f"--device cuda needs a GPU, and the Ray cluster at {address} has none; "
            "use --device cpu, or add a node with a GPU: ray start --address HEAD_HOST:PORT --num-gpus 1"
        )
    # Ray does not hide the GPUs from a task that asked for none: "auto" must ask, or tasks would share GPUs unseen.
    return int(device == "cuda" or (device == "auto" and has_gpu))


def _probe_nodes(ray: Any, expected: dict[str, str]) -> None:
    """Every alive node reports its fingerprint before any run starts, so a mismatch costs seconds, not a run."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(_probe)
    refs = [
        probe.options(
            num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote()
        for node in ray.nodes()
        if node["Alive"]
    ]
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    for ref in refs:
        try:
            report = ray.get(ref, timeout=max(deadline - time.monotonic(), 0))
        except ray.exceptions.TaskUnschedulableError:
            continue  # the node died since ray.nodes() listed it (the cluster notices a lost node in seconds)
        except ray.exceptions.GetTimeoutError:
            raise CompareError(
                f"a Ray node did not answer within {PROBE_TIMEOUT_S:.0f} s; check `ray status`"
            ) from None
        except ray.exceptions.RayError as error:
            raise CompareError(
                f"a Ray node cannot run the package's code ({_first_line(error)}); {RAY_EXTRA_HINT} there"
            ) from None
        check_fingerprint(report["node"], report["fingerprint"], expected)


def _probe() -> dict[str, Any]:
    return {"node": _node_address(), "fingerprint": environment_fingerprint()}


def check_fingerprint(node: str, found: dict[str, str], expected: dict[str, str]) -> None:
    """Refuse a node whose code or libraries differ from the driver's, naming every difference."""
    differences = [
        f"{key} {found.get(key, 'missing')} there, {value} here"
        for key, value in expected.items()
        if found.get(key) != value
    ]
    if differences:
        raise CompareError(
            f"Ray node {node} differs from this machine: {'; '.join(differences)}; install the same versions on "
            "every node (the package's code itself is shipped by the driver)"
        )


def _run_tasks(
    ray: Any,
    root: Path,
    runs: Sequence[RunSpec],
    settings: CompareSettings,
    device: str,
    gpus: int,
    expected: dict[str, str],
    progress: bool,
) -> None:
    task = ray.remote(train_on_node).options(
        num_cpus=1, num_gpus=gpus, max_retries=NODE_FAILURE_RETRIES, retry_exceptions=False
    )
    todo = [run for run in runs if not is_finished(run.run_dir(root))]
    pending: dict[Any, RunSpec] = {}
    for run in todo:
        clear_stale_outcome(run.run_dir(root))
        pending[task.remote(run, settings, device)] = run
    failed = 0
    done_steps = sum(budget_steps(run) for run in runs if run not in todo)
    bar = steps_bar(runs, done_steps, progress)  # runs in flight train on other machines: counted when they end
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                run = pending.pop(ref)
                outcome = _receive(ray, ref, run, root, expected)
                failed += outcome["status"] != FINISHED
                bar.update(budget_steps(run))
                bar.set_postfix_str(f"failed={failed} last: {run.label()}: {outcome['text']}", refresh=False)
            bar.refresh()
    finally:
        bar.close()
        for ref in pending:  # interrupted, or a node refused: stop the runs still queued or training
            ray.cancel(ref)  # not force: a running task gets KeyboardInterrupt and removes its temporary directory


def _receive(ray: Any, ref: Any, run: RunSpec, root: Path, expected: dict[str, str]) -> dict[str, Any]:
    """Write one task's result into the run's directory; a task lost with its nodes is recorded as failed."""
    try:
        result = ray.get(ref)
    except ray.exceptions.RayTaskError as error:  # raised by the task outside training (training errors are data)
        cause = getattr(error, "cause", None) or error
        write_worker_error(run.run_dir(root), f"the Ray task failed: {type(cause).__name__}: {_first_line(cause)}")
        return {"status": FAILED, "text": "task failed"}
    except ray.exceptions.RayError as error:  # its worker or node was lost on every attempt
        attempts = NODE_FAILURE_RETRIES + 1
        write_worker_error(
            run.run_dir(root), f"the Ray task was lost {attempts} times (node or worker died): {_first_line(error)}"
        )
        return {"status": FAILED, "text": "task lost"}
    check_fingerprint(result["node"], result["fingerprint"], expected)
    write_run_files(run.run_dir(root), result["files"])
    return result["outcome"]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def write_run_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Replace the run's files by ``files`` (names as a node returned them), each atomically, the outcome last."""
    unexpected = [name for name in files if name not in RETURNED_FILES]
    if unexpected:
        raise CompareError(f"a Ray task returned files a run does not write: {', '.join(map(repr, unexpected))}")
    prepare_run_dir(run_dir, True, RETURNED_FILES)
    for name in sorted(files, key=lambda name: name in OUTCOME_FILES):
        atomic_write_bytes(run_dir / name, files[name])
