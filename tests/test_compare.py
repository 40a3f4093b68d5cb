"""``compare`` and ``plot``: a tiny matrix in real worker processes, resume, failed and crashed runs, CSV-only plots."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from baselines import atomic, sb3_hyperparams
from baselines.cli import main
from baselines.compare import (
    COMPARE_FILE,
    LOCK_FILE,
    RESULT_COLUMNS,
    RESULTS_MD,
    CompareError,
    CompareSettings,
    RunSpec,
    collect_results,
    compare,
    default_algos,
    directory_lock,
    format_markdown,
    plan_runs,
    read_results_csv,
)
from baselines.compare import execute as compare_execute
from baselines.compare import plan as compare_plan
from baselines.compare import results as compare_results
from baselines.compare.robustness import ROBUSTNESS_HEADING
from baselines.plotting import CURVES_CSV, CURVES_PNG, RESULTS_CSV, STATISTICS_PNG, _on_grid
from baselines.runs import METRICS_FILE, SUMMARY_FILE

CONTINUOUS_ID, DISCRETE_ID = "ContinuousCartPole-v0", "DiscreteCartPole-v0"
ENVS = [CONTINUOUS_ID, DISCRETE_ID]
ALGOS = ["ars", "ppo", "dqn", "sac", "sb3-ars"]
TINY_BUDGET = 200
EVAL_EVERY = 100
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Envs importable by the spawned workers (the module is written to a folder on sys.path, which spawn passes on).
BROKEN_ENVS_MODULE = """
import os

import gymnasium as gym
import numpy as np

from continuous_cartpole.env import CartPoleEnv


class FlawedCartPole(gym.Env):
    metadata = {"render_modes": [], "render_fps": 50}

    def __init__(self, flaw):
        self.inner = CartPoleEnv(continuous=False)
        self.flaw = flaw
        self.action_space = self.inner.action_space
        self.observation_space = self.inner.observation_space

    def reset(self, *, seed=None, options=None):
        if self.flaw == "crash":
            os._exit(3)  # the worker process dies without a word, as on a segfault or the OOM killer
        super().reset(seed=seed)
        return self.inner.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.inner.step(action)
        return obs, np.float32(reward), terminated, truncated, info  # SB3's checker wants a Python float


for env_id, flaw in (("CrashingCartPole-v0", "crash"), ("NumpyRewardCartPole-v0", "numpy_reward")):
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=FlawedCartPole, kwargs={"flaw": flaw}, max_episode_steps=500,
                     reward_threshold=475.0)
"""


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def matrix_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny comparison in two real worker processes, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("compare") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compare_plan, "QUICK_BUDGETS", dict.fromkeys(ALGOS, TINY_BUDGET))
        compare(root, ALGOS, ENVS, 2, quick=True, workers=2, eval_every=EVAL_EVERY, progress=False)
    return root


def expected_runs() -> set[tuple[str, str, str]]:
    supported = {"dqn": [DISCRETE_ID], "sac": [CONTINUOUS_ID]}
    return {(algo, env, seed) for algo in ALGOS for env in supported.get(algo, ENVS) for seed in ("0", "1")}


def test_matrix_writes_one_row_per_run_and_every_file(matrix_dir: Path) -> None:
    rows = read_csv(matrix_dir / RESULTS_CSV)
    assert tuple(rows[0]) == RESULT_COLUMNS
    assert {(row["algo"], row["env_id"], row["seed"]) for row in rows} == expected_runs()
    assert len(rows) == len(expected_runs())
    for row in rows:
        assert row["status"] == "finished", row["error"]
        assert int(row["env_steps"]) >= TINY_BUDGET or row["solved_env_steps"]
        assert row["device"] == "cpu" and float(row["reward_threshold"]) == 475.0
        assert int(row["total_steps"]) == TINY_BUDGET
    assert (matrix_dir / CURVES_PNG).read_bytes().startswith(PNG_SIGNATURE)


def test_curves_csv_holds_every_evaluation_of_every_run(matrix_dir: Path) -> None:
    curves = read_csv(matrix_dir / CURVES_CSV)
    for algo, env_id, seed in expected_runs():
        metrics = read_csv(matrix_dir / "runs" / algo / env_id / f"seed{seed}" / METRICS_FILE)
        mine = [row for row in curves if (row["algo"], row["env_id"], row["seed"]) == (algo, env_id, seed)]
        assert [row["env_steps"] for row in mine] == [row["env_steps"] for row in metrics]
        assert [row["eval_return_mean"] for row in mine] == [row["eval_return_mean"] for row in metrics]


def test_markdown_table_has_a_row_per_supported_pair(matrix_dir: Path) -> None:
    table = (matrix_dir / RESULTS_MD).read_text(encoding="utf-8")
    pairs = {(algo, env) for algo, env, _ in expected_runs()}
    for algo, env_id in pairs:
        assert sum(line.startswith(f"| {algo} | {env_id} | ") and "/2 (" in line for line in table.splitlines()) == 1
    assert f"| dqn | {CONTINUOUS_ID}" not in table and f"| sac | {DISCRETE_ID}" not in table


def test_resume_skips_finished_runs_and_redoes_the_rest_and_the_damaged_ones(
    matrix_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "out"
    shutil.copytree(matrix_dir, root)
    redo = root / "runs" / "ppo" / DISCRETE_ID / "seed1"
    (redo / SUMMARY_FILE).unlink()  # as if its worker had been killed mid-run
    truncated = root / "runs" / "ppo" / DISCRETE_ID / "seed0"
    text = (truncated / METRICS_FILE).read_text(encoding="utf-8")
    (truncated / METRICS_FILE).write_text(text[: text.rindex(",")], encoding="utf-8")  # cut in the last line
    mistyped = root / "runs" / "ars" / CONTINUOUS_ID / "seed1"
    summary = json.loads((mistyped / SUMMARY_FILE).read_text(encoding="utf-8"))
    (mistyped / SUMMARY_FILE).write_text(json.dumps({**summary, "eval_return_mean": "high"}), encoding="utf-8")
    rows, _ = collect_results(root, [RunSpec("ppo", DISCRETE_ID, 0, None), RunSpec("ars", CONTINUOUS_ID, 1, None)])
    assert [row["status"] for row in rows] == ["damaged", "damaged"]
    assert str(truncated / METRICS_FILE) in rows[0]["error"] and "'high'" in rows[1]["error"]
    summaries = {path: path.read_bytes() for path in root.glob(f"runs/*/*/*/{SUMMARY_FILE}")}
    del summaries[truncated / SUMMARY_FILE], summaries[mistyped / SUMMARY_FILE]
    monkeypatch.setattr(compare_plan, "QUICK_BUDGETS", dict.fromkeys(ALGOS, TINY_BUDGET))
    args = ["compare", "--out", str(root), "--algos", *ALGOS, "--quick", "--eval-every", str(EVAL_EVERY)]
    assert main([*args, "--workers", "2", "--no-progress"]) == 0
    assert all(path.read_bytes() == content for path, content in summaries.items())  # none retrained
    for run_dir in (redo, truncated, mistyped):
        assert json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))["status"] == "finished"
    rows = read_csv(root / RESULTS_CSV)
    assert len(rows) == len(expected_runs()) and {row["status"] for row in rows} == {"finished"}
    assert "| ppo | DiscreteCartPole-v0 |" in capsys.readouterr().out


def test_failed_and_crashed_runs_are_recorded_and_the_others_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "flawed_cartpoles.py").write_text(textwrap.dedent(BROKEN_ENVS_MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(compare_plan, "QUICK_BUDGETS", {"sb3-ars": TINY_BUDGET})
    envs = [DISCRETE_ID, "flawed_cartpoles:CrashingCartPole-v0", "flawed_cartpoles:NumpyRewardCartPole-v0"]
    root = tmp_path / "out"
    compare(root, ["sb3-ars"], envs, 1, quick=True, workers=2, eval_every=EVAL_EVERY, progress=False)
    rows = {row["env_id"]: row for row in read_csv(root / RESULTS_CSV)}  # keyed by the registry id
    assert rows[DISCRETE_ID]["status"] == "finished"
    crashed, failed = rows["CrashingCartPole-v0"], rows["NumpyRewardCartPole-v0"]
    assert crashed["status"] == "failed" and "worker process died" in crashed["error"]
    assert failed["status"] == "failed" and "Stable-Baselines3's check_env failed" in failed["error"]
    table = (root / RESULTS_MD).read_text(encoding="utf-8")
    assert "worker process died" in table and "check_env failed" in table
    sys.modules.pop("flawed_cartpoles", None)


def test_other_settings_in_the_same_directory_are_refused(matrix_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CompareError, match="other settings"):
        compare(matrix_dir, ["ppo"], [DISCRETE_ID], 1, quick=False, eval_every=EVAL_EVERY, progress=False)
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(CompareError, match=f"holds no {COMPARE_FILE}"):
        compare(tmp_path, ["ppo"], [DISCRETE_ID], 1, quick=True, progress=False)
    with pytest.raises(CompareError, match="matrix is empty"):
        compare(tmp_path / "new", ["dqn"], [CONTINUOUS_ID], 1, quick=True, progress=False)
    with pytest.raises(CompareError, match="--workers must be at least 1"):
        compare(tmp_path / "new", ["ppo"], [DISCRETE_ID], 1, quick=True, workers=0, progress=False)
    assert not (tmp_path / "new").exists()  # refused before anything was written


def test_resuming_with_other_settings_names_both_and_the_fix(matrix_dir: Path) -> None:
    before = (matrix_dir / COMPARE_FILE).read_bytes()
    message = (
        rf"holds a comparison with other settings \({COMPARE_FILE}: --quick --eval-every {EVAL_EVERY} "
        rf"--eval-episodes 20 --device cpu; now: --quick --eval-every {EVAL_EVERY} --eval-episodes 20 --device auto\); "
        "to resume it, run compare with its settings, or give this comparison its own --out"
    )
    with pytest.raises(CompareError, match=message):  # the device changes the numbers: CUDA runs are other runs
        compare(matrix_dir, ALGOS, ENVS, 2, quick=True, device="auto", eval_every=EVAL_EVERY, progress=False)
    assert (matrix_dir / COMPARE_FILE).read_bytes() == before


@pytest.mark.skipif(torch_has_cuda(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_and_envs_no_run_can_train_on_are_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    args = ["compare", "--out", str(out), "--quick", "--no-progress"]
    assert main([*args, "--device", "cuda"]) == 2
    error = capsys.readouterr().err
    assert "--device cuda: device 'cuda' asked for CUDA, but torch finds no usable CUDA GPU here" in error
    assert main([*args, "--envs", "CartPole-v1"]) == 2  # ARS and REINFORCE train on continuous_cartpole's envs only
    assert "ars cannot train on CartPole-v1: CartPole-v1 is not a continuous_cartpole env" in capsys.readouterr().err
    assert not out.exists()


def test_plot_redraws_from_the_csv_files_alone(matrix_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name in (RESULTS_CSV, CURVES_CSV):
        shutil.copy(matrix_dir / name, tmp_path / name)
    assert main(["plot", str(tmp_path)]) == 0
    assert (tmp_path / CURVES_PNG).read_bytes().startswith(PNG_SIGNATURE)
    (tmp_path / CURVES_CSV).unlink()
    assert main(["plot", str(tmp_path)]) == 2
    assert f"{tmp_path / CURVES_CSV} does not exist" in capsys.readouterr().err


def test_markdown_reports_iqm_intervals_and_solve_rate_over_finished_runs() -> None:
    def row(seed: int, solved: int | None, seconds: float | None, test: float | None, status: str) -> dict:
        values = dict.fromkeys(RESULT_COLUMNS)
        values.update(algo="ppo", env_id=DISCRETE_ID, seed=seed, status=status, solved_env_steps=solved)
        values.update(solved_wall_seconds=seconds, test_return_mean=test, total_steps=100_000)
        values.update(env_steps=solved or 100_000, wall_seconds=seconds or 50.0)
        values["error"] = "ValueError: boom" if status == "failed" else None
        return values

    rows = [
        row(0, 3000, 3.0, 500.0, "finished"),
        row(1, 1000, 1.0, 480.0, "finished"),
        row(2, 2000, 9.0, 490.0, "finished"),
        row(3, None, None, 100.0, "finished"),  # unsolved: counts as its budget, 100k steps and its 50 s
        row(4, None, None, None, "failed"),
    ]
    table = format_markdown(rows, CompareSettings(quick=True, eval_every=2000, eval_episodes=20), "test machine")
    line = next(line for line in table.splitlines() if line.startswith(f"| ppo | {DISCRETE_ID} | 100,000 |"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    # Wilson 3/4: [0.301, 0.954]. IQMs over 4 runs drop one at each end: test (480 + 490) / 2, steps
    # (2000 + 3000) / 2, seconds (3 + 9) / 2.
    assert cells[3] == "3/4 (75% [30%, 95%])"
    assert cells[4].startswith("485.0 [")
    assert cells[5].startswith("2,500 [") and cells[5].endswith("(1 at budget)")
    assert cells[6].startswith("6.0 [") and cells[6].endswith("(1 at budget)")
    assert cells[7] == "1"
    assert f"- ppo on {DISCRETE_ID}, seed 4: ValueError: boom" in table


def test_results_md_is_redrawn_from_results_csv_alone(matrix_dir: Path) -> None:
    def table(text: str) -> list[str]:  # the main table: the robustness section comes from other files
        return [line for line in text.split(ROBUSTNESS_HEADING)[0].splitlines() if line.startswith("| ")]

    settings = CompareSettings(quick=True, eval_every=EVAL_EVERY, eval_episodes=20)
    redrawn = format_markdown(read_results_csv(matrix_dir / RESULTS_CSV), settings, "any machine")
    written = (matrix_dir / RESULTS_MD).read_text(encoding="utf-8")
    assert len(table(written)) == 1 + len({(algo, env) for algo, env, _ in expected_runs()})
    assert table(redrawn) == table(written)


def test_curves_are_interpolated_and_held_after_the_last_evaluation() -> None:
    grid = np.array([50.0, 100.0, 150.0, 200.0, 400.0])
    values = _on_grid(np.array([100.0, 200.0]), np.array([10.0, 30.0]), grid)
    assert np.isnan(values[0])
    assert values[1:].tolist() == [10.0, 20.0, 30.0, 30.0]


# ---- planning ----


def test_one_env_spelt_two_ways_is_one_run() -> None:
    runs, _ = plan_runs(["ars"], [DISCRETE_ID, f"continuous_cartpole:{DISCRETE_ID}"], 1, quick=True)
    assert [(run.algo, run.env_id, run.seed) for run in runs] == [("ars", DISCRETE_ID, 0)]


def test_full_sb3_budgets_follow_the_table_entry_of_the_env_action_space() -> None:
    runs, _ = plan_runs(["sb3-ars", "ppo"], ENVS, 1, quick=False)
    budgets = {(run.algo, run.env_id): run.total_steps for run in runs}
    assert budgets[("sb3-ars", DISCRETE_ID)] == sb3_hyperparams.entry("sb3-ars", "discrete").budget == 50_000
    assert budgets[("sb3-ars", CONTINUOUS_ID)] == sb3_hyperparams.entry("sb3-ars", "continuous").budget == 100_000
    assert budgets[("ppo", DISCRETE_ID)] == 100_000


def test_quick_default_matrix_leaves_out_the_slow_off_policy_algorithms() -> None:
    assert not set(default_algos(quick=True)) & {"sac", "td3"}
    assert {"sac", "td3"} <= set(default_algos(quick=False))


def test_progress_reads_the_env_steps_of_the_last_evaluation(tmp_path: Path) -> None:
    assert compare_execute._steps_so_far(tmp_path) == 0  # not evaluated yet
    (tmp_path / METRICS_FILE).write_text(
        "env_steps,wall_seconds,eval_return_mean,eval_return_std\n2000,1.5,20.0,1.0\n4000,3.0,40.0,2.0\n",
        encoding="utf-8",
    )
    assert compare_execute._steps_so_far(tmp_path) == 4000


# ---- safety of the results folder ----


HOLD_LOCK = """
import sys
from pathlib import Path
from baselines.compare import directory_lock
with directory_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    input()
"""


def test_a_directory_in_use_by_another_compare_is_refused_and_a_stale_lock_taken_over(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(CompareError, match=rf"in use by another compare \(process {holder.pid}"):
            compare(root, ["sb3-ars"], [DISCRETE_ID], 1, quick=True, progress=False)
        assert not (root / COMPARE_FILE).exists()  # nothing planned, nothing trained
    finally:
        holder.kill()
        holder.wait()
    assert (root / LOCK_FILE).read_text(encoding="utf-8") == f"{holder.pid}\n"  # killed: its file stays
    with directory_lock(root):  # the dead holder's lock is taken over
        assert (root / LOCK_FILE).read_text(encoding="utf-8") == f"{os.getpid()}\n"
        with pytest.raises(CompareError, match=rf"process {os.getpid()}"):  # and ours refuses a second compare
            compare(root, ["sb3-ars"], [DISCRETE_ID], 1, quick=True, progress=False)
    assert not (root / LOCK_FILE).exists()  # released


KILLED_COMPARE = """
import sys

from baselines import compare

compare.QUICK_BUDGETS = {"ars": 100_000_000}  # never ends by itself: no evaluation before the budget
if __name__ == "__main__":
    compare.compare(sys.argv[1], ["ars"], ["DiscreteCartPole-v0"], 2, quick=True, workers=2,
                    eval_every=100_000_000, progress=False)
"""


def _children(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
def test_workers_exit_when_compare_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "killed_compare.py"
    script.write_text(KILLED_COMPARE, encoding="utf-8")
    root = tmp_path / "out"
    parent = subprocess.Popen([sys.executable, str(script), str(root)])
    workers: set[int] = set()
    try:
        configs = [root / "runs" / "ars" / DISCRETE_ID / f"seed{seed}" / "config.json" for seed in (0, 1)]
        deadline = time.monotonic() + 120
        while not all(path.exists() for path in configs):  # both workers are training
            assert parent.poll() is None and time.monotonic() < deadline, "the compare did not start its runs"
            time.sleep(0.2)
        workers = _children(parent.pid)
        assert len(workers) >= 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], "workers outlived their compare"
    finally:
        for pid in [parent.pid, *workers]:  # only the processes this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait()


def test_damage_names_what_is_wrong_with_a_run(tmp_path: Path) -> None:
    header = "env_steps,wall_seconds,eval_return_mean,eval_return_std\n"
    sound = {"status": "finished", "env_steps": 4000, "wall_seconds": 2.5, "eval_return_mean": 480.0}
    (tmp_path / METRICS_FILE).write_text(header + "2000,1.0,20.0,1.0\n4000,2.5,480.0,3.0\n", encoding="utf-8")
    assert compare_results.damage(tmp_path, sound) is None
    assert "not a run summary" in compare_results.damage(tmp_path, ["finished"])
    assert "True for env_steps" in compare_results.damage(tmp_path, {**sound, "env_steps": True})
    assert "lacks env_steps" in compare_results.damage(tmp_path, {**sound, "env_steps": None})
    assert compare_results.damage(tmp_path, {**sound, "status": "failed", "env_steps": None}) is None
    for rows, problem in (("2000,1.0,20.0\n", "line 2 is cut short"), ("2000,1.0,x,1.0\n", "'x', not a number")):
        (tmp_path / METRICS_FILE).write_text(header + rows, encoding="utf-8")
        assert problem in compare_results.damage(tmp_path, sound)


def test_plot_names_a_truncated_csv_in_one_line(
    matrix_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for name in (RESULTS_CSV, CURVES_CSV):
        shutil.copy(matrix_dir / name, tmp_path / name)
    text = (tmp_path / CURVES_CSV).read_text(encoding="utf-8")
    (tmp_path / CURVES_CSV).write_text(text[: text.rindex(",")], encoding="utf-8")
    assert main(["plot", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / CURVES_CSV} line " in error and "cut short" in error and error.count("\n") == 1


@pytest.mark.parametrize(
    "name", [RESULTS_CSV, CURVES_CSV, COMPARE_FILE, "notes.txt", f"runs/ppo/{DISCRETE_ID}/seed0/policy.safetensors"]
)
def test_plot_writes_only_image_files(
    matrix_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    root = tmp_path / "out"
    shutil.copytree(matrix_dir, root)
    target = root / name
    before = target.read_bytes() if target.exists() else None
    assert main(["plot", str(root), "--out", str(target)]) == 2
    error = capsys.readouterr().err
    assert "is not an image path" in error and error.count("\n") == 1
    assert (target.read_bytes() if target.exists() else None) == before


def test_plot_writes_both_figures_in_the_format_of_the_suffix(matrix_dir: Path, tmp_path: Path) -> None:
    for name in (RESULTS_CSV, CURVES_CSV):
        shutil.copy(matrix_dir / name, tmp_path / name)
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "figures" / "curves.svg")]) == 0
    for name in ("curves.svg", "curves_statistics.svg"):
        assert b"<svg" in (tmp_path / "figures" / name).read_bytes()[:1000]
    assert main(["plot", str(tmp_path)]) == 0
    assert (tmp_path / STATISTICS_PNG).read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_gives_one_line_and_keeps_the_old_files(
    matrix_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    code: int,
) -> None:
    root = tmp_path / "out"
    shutil.copytree(matrix_dir, root)
    old = {path: path.read_bytes() for path in root.iterdir() if path.is_file()}

    def refuse(target: Path) -> Path:
        raise OSError(code, os.strerror(code), str(target))

    monkeypatch.setattr(atomic, "_create_temporary", refuse)
    monkeypatch.setattr(compare_plan, "QUICK_BUDGETS", dict.fromkeys(ALGOS, TINY_BUDGET))
    assert main(["plot", str(root)]) == 2
    args = ["compare", "--out", str(root), "--algos", *ALGOS, "--quick", "--eval-every", str(EVAL_EVERY)]
    assert main([*args, "--no-progress"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(os.strerror(code) in line for line in errors)
    assert {path: path.read_bytes() for path in root.iterdir() if path.is_file()} == old


def test_a_swingup_run_trains_with_our_swingup_settings(tmp_path: Path) -> None:
    """What compare's worker does for ARS on a swing-up id: TASK_SETTINGS (the rff policy, its directions and
    features) on top of the config's defaults, with the planned budget."""
    from baselines.compare.task import train_one
    from baselines.configs import TASK_SETTINGS
    from baselines.runs import read_run_config

    run = RunSpec("ars", "ContinuousCartPoleSwingUp-v0", 0, 2000)
    settings = CompareSettings(quick=False, eval_every=2000, eval_episodes=20)
    outcome = train_one(run, str(tmp_path / "run"), settings, "cpu")
    assert outcome["status"] == "finished", outcome
    config = read_run_config(tmp_path / "run")["config"]
    expected = {**TASK_SETTINGS["swingup"]["ars"], "total_steps": 2000}
    assert {name: config[name] for name in expected} == expected
    assert json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())["env_steps"] >= 2 * expected["n_directions"]
