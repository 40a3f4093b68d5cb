"""``compare`` on Ray: a real two-node cluster on this machine, on loopback only, that loses a node mid-matrix."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from baselines.algorithms import CHECKPOINT_FILES
from baselines.checkpoint import load_checkpoint
from baselines.cli import main
from baselines.compare import (
    COMPARE_FILE,
    RESULTS_MD,
    WORKER_ERROR_FILE,
    CompareError,
    CompareSettings,
    RunSpec,
    plan_runs,
    run_matrix,
)
from baselines.compare import plan as compare_plan
from baselines.compare.ray_executor import TASK_TEMP_PREFIX
from baselines.compare.robustness import ROBUSTNESS_CSV, ROBUSTNESS_PNG
from baselines.plotting import CURVES_CSV, CURVES_PNG, RESULTS_CSV, STATISTICS_PNG
from baselines.runs import METRICS_FILE, RUN_FILES, SUMMARY_FILE

try:
    import ray
except ImportError:
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason='Ray is not installed: pip install "continuous-cartpole[ray]"')

ENVS = ["ContinuousCartPole-v0", "DiscreteCartPole-v0"]
ALGOS = ["ars", "reinforce"]
BUDGETS = {"ars": 4_000, "reinforce": 4_000}
SETTINGS = CompareSettings(quick=True, eval_every=1_000, eval_episodes=20)
WALL_CLOCK_FIELDS = {"wall_seconds", "solved_wall_seconds"}
NODE_START_TIMEOUT_S = 90.0
# No usage reports (no traffic off the machine), and no token authentication: Ray 2.60 turns it on for a new cluster
# when ~/.ray/auth_token exists, which any earlier `ray.init()` on this machine may have created.
TEST_CLUSTER_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}

# Ray 2.60 rewrites 127.0.0.1 to the machine's network address (services.resolve_ip_for_localhost), which would bind
# the test cluster to the network. Making that function the identity keeps every address, bind and connection of
# the test cluster on loopback; the driver (this process) gets the same patch in the `cluster` fixture.
LOOPBACK_RAY_CLI = (
    "import sys, ray._private.services as services; services.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"
)


# The same patch for every Python process that the tests start with this module's directory on PYTHONPATH (Python
# imports `sitecustomize` at start-up): compare's own subprocess that joins the cluster first, and compare itself.
LOOPBACK_SITECUSTOMIZE = """
import ray._private.services as services
import ray.util

services.resolve_ip_for_localhost = lambda host: host
ray.util.get_node_ip_address = lambda address=None: "127.0.0.1"  # where a local instance (--ray local) binds
"""


ORIGINAL_PYTHONPATH = os.environ.get("PYTHONPATH")


def loopback_pythonpath(directory: Path) -> str:
    directory.mkdir(exist_ok=True)
    (directory / "sitecustomize.py").write_text(LOOPBACK_SITECUSTOMIZE, encoding="utf-8")
    return os.pathsep.join(filter(None, [str(directory), ORIGINAL_PYTHONPATH]))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Node:
    """One `ray start --block` in its own process group; its tasks' temporary directories go to ``task_temp``."""

    process: subprocess.Popen
    ray_temp: Path
    task_temp: Path
    killed: list[str] = field(default_factory=list)

    def kill(self) -> None:
        """Freeze every process of the node, then kill them all: a lost machine cleans nothing up.

        Ray starts each worker in a process group of its own, in the node's session: the session, and the node's
        temp dirs on a command line (a task's reaper has a session of its own), find them all.
        """
        for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGKILL):  # the last pass: anything started meanwhile
            for pid in self.processes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        self.process.wait()

    def processes(self) -> list[int]:
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            pid = int(entry.name)
            try:
                cmdline = (entry / "cmdline").read_bytes()  # a task's reaper names its task's directory
                named = str(self.ray_temp).encode() in cmdline or str(self.task_temp).encode() in cmdline
                if named or os.getsid(pid) == self.process.pid:
                    found.append(pid)
            except OSError:  # ended meanwhile
                continue
        return found


class LoopbackCluster:
    def __init__(self, base: Path, env: dict[str, str | None] | None = None) -> None:
        self.base = base
        self.env = TEST_CLUSTER_ENV if env is None else env  # for the nodes; None removes a variable
        # Ray's sockets live under its temp dir, and a Unix socket path has at most 107 bytes: pytest's tmp_path
        # is too deep for that, so Ray's own files go to a short directory of their own.
        self.ray_temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp" if os.path.isdir("/tmp") else None))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[Node] = []

    def add_node(self, name: str, head: bool = False, cpus: int = 1) -> Node:
        ray_temp, task_temp = self.ray_temp / name, self.base / name / "tmp"
        task_temp.mkdir(parents=True)
        if head:
            role = ["--head", "--port", str(self.port), "--include-dashboard=false"]
            role += ["--ray-client-server-port", str(free_port()), "--dashboard-port", str(free_port())]
        else:
            role = ["--address", self.address]
        command = [sys.executable, "-c", LOOPBACK_RAY_CLI, "start", *role, "--node-ip-address", "127.0.0.1"]
        command += ["--num-cpus", str(cpus), "--num-gpus", "0", "--object-store-memory", str(100 * 2**20)]
        command += ["--temp-dir", str(ray_temp), "--disable-usage-stats", "--block"]
        # No PYTHONPATH and a neutral working directory: the nodes get the package's code from the driver.
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env.update(TMPDIR=str(task_temp), **{key: value for key, value in self.env.items() if value is not None})
        for key in [key for key, value in self.env.items() if value is None]:
            env.pop(key, None)
        log = open(self.base / f"{name}.log", "wb")  # noqa: SIM115  (the node outlives this function)
        process = subprocess.Popen(
            command, cwd=self.base, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        node = Node(process, ray_temp, task_temp)
        self.nodes.append(node)
        return node

    def wait_for_cpus(self, cpus: int) -> None:
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while True:
            try:
                ray.init(address=self.address, logging_level="warning")
                try:
                    while ray.cluster_resources().get("CPU", 0) < cpus and time.monotonic() < deadline:
                        time.sleep(0.2)
                    if ray.cluster_resources().get("CPU", 0) >= cpus:
                        return
                finally:
                    ray.shutdown()
            except ConnectionError:
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(path.read_text(errors="replace")[-2000:] for path in self.base.glob("*.log"))
                raise RuntimeError(f"the test cluster did not come up with {cpus} CPUs:\n{logs}")
            time.sleep(0.5)

    def close(self) -> None:
        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(self.nodes):
            node.kill()
        shutil.rmtree(self.ray_temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    cluster = LoopbackCluster(tmp_path_factory.mktemp("ray"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ray._private.services.resolve_ip_for_localhost", lambda host: host)
        for name, value in TEST_CLUSTER_ENV.items():
            patch.setenv(name, value)
        patch.setenv("PYTHONPATH", loopback_pythonpath(cluster.base / "loopback"))
        try:
            cluster.add_node("head", head=True)
            cluster.add_node("worker")
            cluster.wait_for_cpus(2)
            yield cluster
        finally:
            cluster.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def kill_when_a_task_runs(node: Node, prefix: str, timeout: float) -> threading.Thread:
    """Kill ``node`` as soon as one of its tasks has created its temporary directory (a run in flight)."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            in_flight = sorted(path.name for path in node.task_temp.glob(f"{prefix}*"))
            if in_flight:
                node.kill()
                node.killed.extend(in_flight)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def files_under(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


@needs_ray
def test_node_with_other_library_versions_is_refused(
    cluster: LoopbackCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines.compare import ray_executor

    real = ray_executor.environment_fingerprint()
    monkeypatch.setattr(ray_executor, "environment_fingerprint", lambda: {**real, "torch": "0.0.1"})  # driver only
    runs, _ = plan_runs(["ars"], ENVS[:1], 1, quick=True)
    message = rf"^Ray node 127\.0\.0\.1 differs from this machine: torch {re.escape(real['torch'])} there, 0\.0\.1 here"
    with pytest.raises(CompareError, match=message):
        ray_executor.run_matrix_on_ray(tmp_path, runs, SETTINGS, cluster.address, progress=False)
    assert not ray.is_initialized()
    assert not (tmp_path / "runs").exists()


@needs_ray
def test_cuda_on_a_cluster_without_gpus_is_refused(cluster: LoopbackCluster, tmp_path: Path) -> None:
    from baselines.compare.ray_executor import run_matrix_on_ray

    runs, _ = plan_runs(["ars"], ENVS[:1], 1, quick=True)
    with pytest.raises(CompareError, match=r"--device cuda needs a GPU, and the Ray cluster at .* has none"):
        run_matrix_on_ray(tmp_path, runs, SETTINGS, cluster.address, device="cuda", progress=False)
    assert not (tmp_path / "runs").exists()


@needs_ray
def test_matrix_survives_losing_a_node_and_matches_the_local_backend(
    cluster: LoopbackCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines.compare.ray_executor import TASK_TEMP_PREFIX, run_matrix_on_ray

    monkeypatch.setattr(compare_plan, "QUICK_BUDGETS", BUDGETS)
    runs, _ = plan_runs(ALGOS, ENVS, 2, quick=True)
    runs.append(failing := RunSpec("ars", ENVS[1], 7, total_steps=-5))  # fails by itself: recorded, not retried
    head, worker = cluster.nodes
    watcher = kill_when_a_task_runs(worker, TASK_TEMP_PREFIX, timeout=60)
    run_matrix_on_ray(tmp_path / "ray", runs, SETTINGS, cluster.address, progress=False)
    watcher.join()
    assert worker.killed, "no task ran on the worker node, so none was lost with it"
    assert worker.process.poll() is not None
    run_matrix(tmp_path / "local", runs, SETTINGS, workers=2, progress=False)

    expected = {f"{run.run_dir(Path()).as_posix()}/{name}" for run in runs[:-1] for name in RUN_FILES}
    expected.add(f"{failing.run_dir(Path()).as_posix()}/{WORKER_ERROR_FILE}")
    assert files_under(tmp_path / "ray") == expected == files_under(tmp_path / "local")  # no stray files
    error = (failing.run_dir(tmp_path / "ray") / WORKER_ERROR_FILE).read_text()
    assert "total_steps must be an integer >= 1, got -5" in error
    assert error == (failing.run_dir(tmp_path / "local") / WORKER_ERROR_FILE).read_text()
    for run in runs[:-1]:
        on_ray, local = run.run_dir(tmp_path / "ray"), run.run_dir(tmp_path / "local")
        summary = json.loads((on_ray / SUMMARY_FILE).read_text())
        assert summary["status"] == "finished", summary["error"]
        local_summary = json.loads((local / SUMMARY_FILE).read_text())
        for key in summary.keys() - WALL_CLOCK_FIELDS:
            assert summary[key] == local_summary[key], (run.label(), key)
        curve = [
            (row["env_steps"], row["eval_return_mean"], row["eval_return_std"])
            for row in read_csv(on_ray / METRICS_FILE)
        ]
        local_curve = [
            (row["env_steps"], row["eval_return_mean"], row["eval_return_std"])
            for row in read_csv(local / METRICS_FILE)
        ]
        assert curve == local_curve, run.label()
        for checkpoint in CHECKPOINT_FILES.values():  # not bytes: safetensors orders its header freely
            tensors, metadata = load_checkpoint(on_ray / checkpoint)
            local_tensors, local_metadata = load_checkpoint(local / checkpoint)
            assert metadata == local_metadata and tensors.keys() == local_tensors.keys()
            assert all(torch.equal(tensors[name], local_tensors[name]) for name in tensors), (run.label(), checkpoint)
    # The nodes wrote only inside their tasks' temporary directories, and removed them, except the killed node,
    # whose in-flight run's directory stayed behind (it was killed mid-run, which is the point).
    assert not list(head.task_temp.glob(f"{TASK_TEMP_PREFIX}*"))
    assert sorted(path.name for path in worker.task_temp.glob(f"{TASK_TEMP_PREFIX}*")) == worker.killed
    assert list(head.ray_temp.glob("session_*/runtime_resources/py_modules_files/*"))  # the code came from the driver

    # Resuming redoes the unfinished runs only: the one whose summary is gone, and the failed one.
    redo = runs[0].run_dir(tmp_path / "ray")
    (redo / SUMMARY_FILE).unlink()
    kept = {path: path.read_bytes() for path in (tmp_path / "ray").rglob(SUMMARY_FILE)}
    (failing.run_dir(tmp_path / "ray") / WORKER_ERROR_FILE).write_text("stale")
    run_matrix_on_ray(tmp_path / "ray", runs, SETTINGS, cluster.address, progress=False)
    assert all(path.read_bytes() == content for path, content in kept.items())
    assert json.loads((redo / SUMMARY_FILE).read_text())["status"] == "finished"
    assert (failing.run_dir(tmp_path / "ray") / WORKER_ERROR_FILE).read_text() == error
    assert files_under(tmp_path / "ray") == expected


@needs_ray
def test_compare_cli_runs_on_the_cluster(cluster: LoopbackCluster, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compare", "--ray", cluster.address, "--out", str(out), "--algos", "ars", "--envs", ENVS[1]]
    assert main([*args, "--seeds", "1", "--quick", "--no-progress"]) == 0
    [row] = read_csv(out / RESULTS_CSV)
    assert (row["algo"], row["env_id"], row["seed"], row["status"]) == ("ars", ENVS[1], "0", "finished")
    assert int(row["solved_env_steps"]) > 0
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [
            *(COMPARE_FILE, "runs", RESULTS_CSV, CURVES_CSV, RESULTS_MD, CURVES_PNG, STATISTICS_PNG),
            *(ROBUSTNESS_CSV, ROBUSTNESS_PNG),
        ]
    )


@needs_ray
def test_unreachable_cluster_and_bad_address_give_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from baselines.compare.ray_executor import run_matrix_on_ray

    runs, _ = plan_runs(["ars"], ENVS[:1], 1, quick=True)
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(CompareError, match=rf"^no Ray cluster answers at {address} .*ray start --head --port 6379"):
        run_matrix_on_ray(tmp_path, runs, SETTINGS, address, progress=False)
    with pytest.raises(CompareError, match="--ray takes HOST:PORT"):
        run_matrix_on_ray(tmp_path, runs, SETTINGS, "head-without-port", progress=False)
    with pytest.raises(CompareError, match=r"Ray Client \(ray://\) is not supported"):
        run_matrix_on_ray(tmp_path, runs, SETTINGS, "ray://head:10001", progress=False)
    assert not ray.is_initialized() and not list(tmp_path.iterdir())
    out = tmp_path / "out"
    assert main(["compare", "--ray", address, "--out", str(out), "--quick", "--no-progress"]) == 2
    assert f"no Ray cluster answers at {address}" in capsys.readouterr().err
    assert not out.exists()  # refused before anything was written


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from baselines.compare.ray_executor import run_matrix_on_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    runs, _ = plan_runs(["ars"], ENVS[:1], 1, quick=True)
    with pytest.raises(CompareError, match=r'not installed .*pip install "continuous-cartpole\[ray\]"'):
        run_matrix_on_ray(tmp_path, runs, SETTINGS, "local", progress=False)


def test_cpu_less_clusters_are_refused_and_auto_asks_for_a_gpu_only_where_there_are_some() -> None:
    from baselines.compare.ray_executor import gpus_per_task

    class Cluster:  # the part of the ray module that gpus_per_task reads
        def __init__(self, **resources: float) -> None:
            self.resources = {"memory": 1e9, "object_store_memory": 1e8, **resources}

        def cluster_resources(self) -> dict[str, float]:
            return self.resources

    with pytest.raises(CompareError, match=r"^the Ray cluster at h:1 has no CPU for a task .*--num-cpus 0"):
        gpus_per_task(Cluster(), "h:1", "cpu")  # nodes started with --num-cpus 0
    assert [gpus_per_task(Cluster(CPU=4), "h:1", device) for device in ("cpu", "auto")] == [0, 0]
    assert [gpus_per_task(Cluster(CPU=4, GPU=2), "h:1", device) for device in ("cpu", "auto", "cuda")] == [0, 1, 1]


def test_baselines_and_the_local_compare_never_import_ray(tmp_path: Path) -> None:
    script = f"""
        import sys
        import baselines
        from baselines.cli import main
        if __name__ == "__main__":
            args = ["--algos", "ars", "--envs", "DiscreteCartPole-v0", "--seeds", "1", "--quick", "--workers", "1"]
            assert main(["compare", "--out", {str(tmp_path / "out")!r}, *args, "--no-progress"]) == 0
            assert "ray" not in sys.modules, "Ray was imported"
            print("ok")
    """
    (tmp_path / "script.py").write_text(textwrap.dedent(script), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": ORIGINAL_PYTHONPATH or ""}  # without the cluster fixture's sitecustomize
    result = subprocess.run(
        [sys.executable, str(tmp_path / "script.py")], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr


def wait_for_line(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text(errors="replace") if path.exists() else ""):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{text!r} not in {path} after {timeout} s:\n{path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


@needs_ray
def test_readme_cluster_steps_work_after_ray_local_wrote_a_token(tmp_path: Path) -> None:
    """The README's order on one machine, loopback only: `compare --ray local` (Ray 2.60 writes ~/.ray/auth_token),
    then `ray start --head` (which turns token authentication on because that token exists), then
    `compare --ray HEAD:PORT`, which must send the token; a wrong token is one line, and nothing is written."""
    home, ray_temp = tmp_path / "home", Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env.update(HOME=str(home), RAY_TMPDIR=str(ray_temp), RAY_USAGE_STATS_ENABLED="0")
    env.update(PYTHONPATH=loopback_pythonpath(tmp_path / "loopback"))
    small = ["--quick", "--algos", "ars", "--envs", ENVS[1], "--seeds", "1", "--no-progress"]

    def compare(ray: str, out: str, **extra_env: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "baselines", "compare", "--ray", ray, "--out", out, *small]
        return subprocess.run(command, cwd=tmp_path, env={**env, **extra_env}, capture_output=True, text=True)

    node_env = {"HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": None}  # Ray's default mode
    cluster = LoopbackCluster(tmp_path / "cluster", env=node_env)
    try:
        local = compare("local", "results-local")
        assert local.returncode == 0, local.stderr[-3000:]
        assert (home / ".ray" / "auth_token").is_file()  # what the README's next steps meet
        head = cluster.add_node("head", head=True)
        wait_for_line(cluster.base / "head.log", "Ray runtime started", NODE_START_TIMEOUT_S)

        wrong = compare(cluster.address, "results-wrong", RAY_AUTH_TOKEN="0" * 32)
        assert wrong.returncode == 2, wrong.stderr[-3000:]
        assert wrong.stderr.strip().splitlines() == [
            f"cartpole-baselines compare: error: the Ray cluster at {cluster.address} refused this machine's token "
            "(token authentication): copy the head's ~/.ray/auth_token here (or set RAY_AUTH_TOKEN to its content), "
            "or start the cluster with RAY_AUTH_MODE=disabled on a trusted network"
        ]
        assert not (tmp_path / "results-wrong").exists()

        on_cluster = compare(cluster.address, "results-cluster")
        assert on_cluster.returncode == 0, on_cluster.stderr[-3000:]
        [row] = read_csv(tmp_path / "results-cluster" / RESULTS_CSV)
        assert (row["algo"], row["seed"], row["status"]) == ("ars", "0", "finished")
        assert "InvalidAuthToken" not in on_cluster.stderr
        assert head.process.poll() is None
    finally:
        cluster.close()
        shutil.rmtree(ray_temp, ignore_errors=True)


def own_processes(marker: str) -> list[int]:
    """The processes whose command line or environment names ``marker`` (what a test started, and their children)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # ended meanwhile, or not ours to read
            continue
    return found


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@needs_ray
def test_sigterm_and_sigkill_of_a_ray_compare_leave_no_task_directories(tmp_path: Path) -> None:
    """`compare --ray local` (loopback): SIGTERM ends it as Ctrl-C does, exit code 143 and no Ray dump; SIGKILL
    leaves no task directory behind either (each task's reaper removes it)."""
    ray_temp, tasks = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp")), tmp_path / "tasks"
    tasks.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env.update(HOME=str(tmp_path), RAY_TMPDIR=str(ray_temp), TMPDIR=str(tasks), RAY_USAGE_STATS_ENABLED="0")
    env.update(PYTHONPATH=loopback_pythonpath(tmp_path / "loopback"))
    args = ["--quick", "--algos", "reinforce", "--envs", ENVS[0], "--seeds", "2", "--no-progress"]
    try:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            out = tmp_path / f"out-{signum.name}"
            command = [sys.executable, "-m", "baselines", "compare", "--ray", "local", "--out", str(out), *args]
            driver = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
            started = wait_until(lambda d=driver: d.poll() is not None or any(tasks.glob(f"{TASK_TEMP_PREFIX}*")), 180)
            assert started and driver.poll() is None, f"no task started:\n{driver.communicate()[1][-3000:]}"
            driver.send_signal(signum)
            _, stderr = driver.communicate(timeout=60)
            if signum == signal.SIGTERM:
                assert driver.returncode == 143, stderr[-3000:]
                assert stderr.strip().splitlines()[-1] == "cartpole-baselines compare: terminated", stderr[-3000:]
                assert not re.search(r"^\[\d{4}-\d\d-\d\d .*\] ", stderr, re.MULTILINE), stderr[-3000:]  # C++ logs
                assert (out / RESULTS_CSV).is_file()  # an interrupted compare still writes its results
            else:
                assert driver.returncode == -signal.SIGKILL
            # The instance, its workers and the tasks' reapers (all of them carry RAY_TMPDIR) end, then nothing is left.
            assert wait_until(lambda: not own_processes(str(ray_temp)), 90), "the local Ray instance outlived compare"
            assert wait_until(lambda: not any(tasks.glob(f"{TASK_TEMP_PREFIX}*")), 10), sorted(tasks.iterdir())
    finally:
        for pid in own_processes(str(ray_temp)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ray_temp, ignore_errors=True)


@needs_ray
def test_an_address_where_something_else_answers_is_refused_within_the_deadline(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from baselines.compare.ray_executor import CONNECT_DEADLINE_S

    with socket.socket() as server:  # a plain TCP server on loopback: accepts, never speaks Ray's protocol
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        out = tmp_path / "out"
        started = time.monotonic()
        assert main(["compare", "--ray", address, "--out", str(out), "--quick", "--no-progress"]) == 2
        elapsed = time.monotonic() - started
    assert capsys.readouterr().err.splitlines() == [
        f"cartpole-baselines compare: error: no Ray cluster answers at {address} within {CONNECT_DEADLINE_S:.0f} s "
        "(something answers there, but not a Ray head, or the cluster's nodes are unreachable from here); start one "
        "with `ray start --head --port 6379` (and `ray start --address HEAD_HOST:6379` on the others), or use --ray "
        "local"
    ]
    assert elapsed < CONNECT_DEADLINE_S + 15  # planning the runs, then the deadline: not Ray's minutes
    assert not out.exists() and not ray.is_initialized()
