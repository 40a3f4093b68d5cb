"""No error destroys or misplaces a run: damaged runs are seen, overwrites keep the old run until the new one
exists, signals finish the files, hostile files in a run directory are one-line refusals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from deadline import in_thread

from baselines.cli import main
from baselines.compare import RunSpec, damage, is_finished
from baselines.runs import METRICS_FILE, SUMMARY_FILE, read_summary

TINY_ARS = ["--n-directions", "4", "--top-b", "2", "--device", "cpu", "--no-progress"]
ENV = "ContinuousCartPole-v0"


def train_ars(out: Path, *extra: str) -> int:
    return main(["train", "ars", "--env", ENV, "--out", str(out), *TINY_ARS, *extra])


@pytest.fixture(scope="module")
def ars_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ARS run with three evaluations; tests copy it before changing anything."""
    out = tmp_path_factory.mktemp("ars") / "run"
    assert train_ars(out, "--total-steps", "1500", "--eval-every", "500", "--seed", "3") == 0
    assert read_summary(out)["evaluations"] >= 2
    return out


def copy_run(ars_run: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(ars_run, run_dir)
    assert is_finished(run_dir)
    return run_dir


def cut_last_row(run_dir: Path) -> None:
    lines = (run_dir / METRICS_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    (run_dir / METRICS_FILE).write_text("".join(lines[:-1]), encoding="utf-8")  # a whole row less: still valid CSV


def flip_a_bit(run_dir: Path) -> None:
    path = run_dir / "policy.safetensors"
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x04
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("harm", "problem"),
    [
        (cut_last_row, "evaluations, "),
        (lambda run_dir: (run_dir / "best_policy.safetensors").unlink(), "best_policy.safetensors does not exist"),
        (flip_a_bit, "do not match the stored SHA-256"),
    ],
    ids=["metrics cut at a row boundary", "best checkpoint missing", "bit flipped in the last checkpoint"],
)
def test_a_damaged_finished_run_is_not_kept_as_finished(ars_run: Path, tmp_path: Path, harm: Any, problem: str) -> None:
    run_dir = copy_run(ars_run, tmp_path)
    harm(run_dir)
    message = damage(run_dir, read_summary(run_dir))
    assert message is not None and problem in message and "compare redoes the run" in message
    assert not is_finished(run_dir)


def make_hostile(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    else:  # a 4 GB sparse file: no disk, 4 GB of memory if read whole
        with open(path, "wb") as file:
            file.truncate(4 * 1024**3)


HOSTILE = ["fifo", "dev_zero", "sparse"]


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("name", ["config.json", SUMMARY_FILE, METRICS_FILE])
def test_plot_of_a_run_with_a_hostile_file_is_a_one_line_refusal(
    ars_run: Path, tmp_path: Path, name: str, kind: str, capsys: pytest.CaptureFixture
) -> None:
    run_dir = copy_run(ars_run, tmp_path)
    make_hostile(run_dir / name, kind)
    assert in_thread(main, ["plot", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and name in err, err
    assert ("not a regular file" if kind != "sparse" else "over the") in err


@pytest.mark.parametrize("kind", HOSTILE)
def test_evaluate_with_a_hostile_config_is_a_one_line_refusal(
    ars_run: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture
) -> None:
    run_dir = copy_run(ars_run, tmp_path)
    make_hostile(run_dir / "config.json", kind)
    assert in_thread(main, ["evaluate", str(run_dir), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json" in err, err


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("name", [SUMMARY_FILE, METRICS_FILE])
def test_compare_planning_treats_a_hostile_run_file_as_a_run_to_redo(
    ars_run: Path, tmp_path: Path, name: str, kind: str
) -> None:
    run_dir = copy_run(ars_run, tmp_path)
    make_hostile(run_dir / name, kind)
    assert in_thread(is_finished, run_dir) is False


@pytest.mark.parametrize("kind", HOSTILE)
def test_compare_refuses_a_hostile_compare_json_in_one_line(tmp_path: Path, kind: str) -> None:
    from baselines.compare import COMPARE_FILE, CompareError, CompareSettings, record_plan

    make_hostile(tmp_path / COMPARE_FILE, kind)
    settings = CompareSettings(quick=True, eval_every=500, eval_episodes=20)
    error = in_thread(record_plan, tmp_path, settings, [RunSpec("ars", ENV, 0, 1000)])
    assert isinstance(error, CompareError) and COMPARE_FILE in str(error) and "\n" not in str(error)


@pytest.mark.parametrize("kind", HOSTILE)
def test_plot_of_a_comparison_with_a_hostile_results_csv_is_a_one_line_refusal(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture
) -> None:
    make_hostile(tmp_path / "results.csv", kind)
    (tmp_path / "learning_curves.csv").write_text("algo,env_id,seed,env_steps,wall_seconds,eval_return_mean\n")
    assert in_thread(main, ["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results.csv" in err, err


@pytest.mark.parametrize("kind", [*HOSTILE, "billion_laughs"])
def test_a_hostile_hyperparameter_file_is_a_one_line_refusal(tmp_path: Path, kind: str) -> None:
    from baselines import sb3_hyperparams

    path = tmp_path / "ppo.yml"
    if kind == "billion_laughs":
        levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
        levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
        path.write_text("\n".join(levels), encoding="utf-8")
    else:
        make_hostile(path, kind)
    error = in_thread(sb3_hyperparams.from_zoo_file, path, ENV)
    assert isinstance(error, ValueError) and str(path) in str(error) and "\n" not in str(error), error


def test_summary_is_json_checked(ars_run: Path, tmp_path: Path) -> None:
    run_dir = copy_run(ars_run, tmp_path)
    (run_dir / SUMMARY_FILE).write_text(json.dumps([1] * 3), encoding="utf-8")
    assert not is_finished(run_dir)


@pytest.mark.parametrize("linked", ["runs/ars/ContinuousCartPole-v0/seed0", "runs/ars"])
def test_compare_refuses_a_symlinked_run_directory_and_writes_nothing_through_it(
    tmp_path: Path, linked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines.compare import CompareError, CompareSettings, compare, record_plan
    from baselines.compare import plan as compare_plan

    monkeypatch.setattr(compare_plan, "QUICK_BUDGETS", {"ars": 500})
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    record_plan(root, CompareSettings(quick=True, eval_every=500, eval_episodes=20), [RunSpec("ars", ENV, 0, 500)])
    (root / linked).parent.mkdir(parents=True, exist_ok=True)
    (root / linked).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(CompareError, match=f"{root / linked} is a symbolic link"):
        compare(root, ["ars"], [ENV], 1, quick=True, eval_every=500, workers=1, progress=False)
    assert list(elsewhere.iterdir()) == []


def _wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "baselines", *args], cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_sigterm_during_train_writes_the_summary_and_exits_143(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "ars", "--env", ENV, "--out", str(out), *TINY_ARS, "--eval-every", "500"]
    process = _cli(*args, "--total-steps", "100000000", "--keep-training", cwd=tmp_path)
    try:
        _wait_for(lambda: (out / METRICS_FILE).exists() or process.poll() is not None, "the first evaluation")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert err.strip().endswith("terminated") and "Traceback" not in err
    summary = read_summary(out)
    assert summary["status"] == "interrupted" and summary["evaluations"] >= 1
    assert not list(out.glob(".*.tmp*"))


def test_sigterm_during_render_leaves_no_temporary_file_and_exits_143(tmp_path: Path) -> None:
    video = tmp_path / "rollout.gif"
    args = ["render", "--env", ENV, "--policy", "random", "--episodes", "100000", "--out", str(video)]
    process = _cli(*args, cwd=tmp_path)
    try:
        _wait_for(lambda: list(tmp_path.glob(".rollout.gif.*")) or process.poll() is not None, "the temporary video")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path: Path) -> None:
    import numpy as np

    from baselines.video import write_video

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    video = tmp_path / "rollout.gif"
    long_ago = time.time() - 3600
    stale = tmp_path / f".rollout.gif.{dead}-0123abcd.tmp.gif"  # left by a render killed with SIGKILL
    recent = tmp_path / f".rollout.gif.{dead}-4567abcd.tmp.gif"  # maybe a writer on another machine: kept a while
    live = tmp_path / f".rollout.gif.{os.getpid()}-89abcdef.tmp.gif"  # a writer still running
    other = tmp_path / f".metrics.csv.{dead}-0123abcd.tmp.csv"  # another target's: left to its own writes
    for path in (stale, recent, live, other):
        path.write_bytes(b"GIF89a")
    for path in (stale, live, other):
        os.utime(path, (long_ago, long_ago))
    write_video(video, [np.zeros((4, 4, 3), np.uint8)], fps=10)
    assert video.exists() and not stale.exists()
    assert recent.exists() and live.exists() and other.exists()


@pytest.mark.parametrize("log", ["a file", "inside a file"])
def test_overwrite_with_a_bad_tensorboard_log_keeps_the_old_run(
    ars_run: Path, tmp_path: Path, log: str, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("tensorboard")
    run_dir = copy_run(ars_run, tmp_path)
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    tensorboard = tmp_path / "tb"
    tensorboard.write_text("not a folder", encoding="utf-8")
    if log == "inside a file":
        tensorboard = tensorboard / "logs"
    args = ["--total-steps", "500", "--eval-every", "500", "--overwrite", "--tensorboard-log", str(tensorboard)]
    code = train_ars(run_dir, *args)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--tensorboard-log" in err, err
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before


def test_an_overwrite_that_fails_before_its_first_evaluation_keeps_the_old_run(
    ars_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines import ars

    run_dir = copy_run(ars_run, tmp_path)
    (run_dir / "notes.txt").write_text("mine", encoding="utf-8")
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}

    def fail(*_: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ars, "train", fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        from baselines.ars import ARSConfig
        from baselines.runs import train_run

        train_run("ars", ARSConfig(ENV, total_steps=500, eval_every=500, device="cpu"), run_dir, overwrite=True)
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before


def test_an_overwrite_replaces_every_run_file_and_keeps_other_files(ars_run: Path, tmp_path: Path) -> None:
    run_dir = copy_run(ars_run, tmp_path)
    (run_dir / "notes.txt").write_text("mine", encoding="utf-8")
    old_config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert train_ars(run_dir, "--total-steps", "500", "--eval-every", "500", "--overwrite", "--seed", "9") == 0
    assert (
        json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["config"]["seed"]
        == 9
        != old_config["config"]["seed"]
    )
    assert read_summary(run_dir)["seed"] == 9 and is_finished(run_dir)
    assert (run_dir / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(path.name for path in run_dir.iterdir() if path.name.startswith(".")) == []


FULL_DISK_UNDER_TENSORBOARD = """
import errno, os, sys
from tensorboard.summary.writer import record_writer
from baselines.cli import main

written, real_write = [], record_writer.RecordWriter.write

def full_disk(self, data):  # runs in TensorBoard's writer thread; the disk fills up after the first few scalars
    if len(written) >= 5:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "events.out.tfevents")
    written.append(data)
    real_write(self, data)

record_writer.RecordWriter.write = full_disk
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_under_tensorboard_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    out, log = tmp_path / "run", tmp_path / "tb"
    args = ["train", "ars", "--env", ENV, "--out", str(out), *TINY_ARS, "--total-steps", "1500", "--eval-every", "500"]
    argv = [sys.executable, "-c", FULL_DISK_UNDER_TENSORBOARD, *args, "--tensorboard-log", str(log)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (  # no traceback from the writer thread
        "cartpole-baselines train: error: No space left on device (events.out.tfevents); "
        "free some disk space or write elsewhere\n"
    )
    assert read_summary(out)["status"] == "failed"


def test_plot_of_hundreds_of_env_ids_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from baselines.plotting import MAX_ENVS

    header = "algo,env_id,seed,status,reward_threshold\n"
    (tmp_path / "results.csv").write_text(header + "".join(f"ars,Env{i}-v0,0,failed,\n" for i in range(300)))
    (tmp_path / "learning_curves.csv").write_text("algo,env_id,seed,env_steps,wall_seconds,eval_return_mean\n")
    started = time.perf_counter()
    assert in_thread(main, ["plot", str(tmp_path)]) == 2
    assert time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert f"results.csv holds 300 env ids; a figure draws at most {MAX_ENVS}" in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", HOSTILE)
def test_compare_progress_poll_never_blocks_on_a_hostile_metrics_file(tmp_path: Path, kind: str) -> None:
    from baselines.compare import execute

    make_hostile(tmp_path / METRICS_FILE, kind)
    assert in_thread(execute._steps_so_far, tmp_path) == 0


def _run_files(folder: Path, content: str) -> dict[str, bytes]:
    from baselines.runs import RUN_FILES

    folder.mkdir(exist_ok=True)
    for name in RUN_FILES:
        (folder / name).write_text(f"{content} {name}", encoding="utf-8")
    return {name: f"{content} {name}".encode() for name in RUN_FILES}


def _dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_an_overwrite_killed_mid_swap_is_finished_by_the_next_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines import runs

    out = tmp_path / "run"
    _run_files(out, "old")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    build = out / f".overwrite-{_dead_pid()}-0123abcd"
    new = _run_files(build, "new")
    replace, calls = os.replace, []

    def killed_after_two(source: Any, target: Any) -> None:
        if len(calls) == 2:
            raise SystemExit("killed")  # stands for SIGKILL: no handler, no finally of ours runs on
        calls.append(source)
        replace(source, target)

    monkeypatch.setattr(runs.os, "replace", killed_after_two)
    with pytest.raises(SystemExit):
        runs._swap_in(build, out, keep_new=True)
    monkeypatch.setattr(runs.os, "replace", replace)
    assert not (out / SUMMARY_FILE).exists() and (build / SUMMARY_FILE).exists()  # a mix, no summary
    next_build = runs._build_dir(out, overwrite=True)
    assert {name: (out / name).read_bytes() for name in new} == new
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(path.name for path in out.iterdir() if path.name.startswith(".")) == [next_build.name]


def test_ctrl_c_during_the_overwrite_swap_waits_until_the_swap_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines import runs

    out = tmp_path / "run"
    _run_files(out, "old")
    build = out / f".overwrite-{os.getpid()}-0123abcd"
    new = _run_files(build, "new")
    replace = os.replace

    def interrupted(source: Any, target: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        replace(source, target)

    monkeypatch.setattr(runs.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runs._swap_in(build, out, keep_new=True)
    assert {name: (out / name).read_bytes() for name in new} == new
    assert not build.exists()


def test_an_overwrite_keeps_the_temporaries_of_live_writers(tmp_path: Path) -> None:
    from baselines import runs

    out = tmp_path / "run"
    _run_files(out, "old")
    live = out / f".metrics.csv.{os.getpid()}-89abcdef.tmp.csv"  # e.g. a `compare` progress reader's writer
    stale = out / f".metrics.csv.{_dead_pid()}-0123abcd.tmp.csv"
    for path in (live, stale):
        path.write_text("x", encoding="utf-8")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    build = runs._build_dir(out, overwrite=True)
    _run_files(build, "new")
    runs._swap_in(build, out, keep_new=True)
    assert live.exists() and not stale.exists()
    live.unlink()
    stale.write_text("x", encoding="utf-8")
    live.write_text("x", encoding="utf-8")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    runs.prepare_run_dir(out, True, runs.RUN_FILES)
    assert live.exists() and not stale.exists()
