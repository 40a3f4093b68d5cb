"""Run directories, checkpoints and the ``cartpole-baselines`` CLI (train -> evaluate -> load_policy)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_save

import baselines.atomic
from baselines import load_policy
from baselines.algorithms import ALGORITHMS, DISCRETE, Algorithm
from baselines.ars import ARSConfig
from baselines.atomic import atomic_path, atomic_write_text
from baselines.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from baselines.cli import main
from baselines.evaluation import evaluate
from baselines.runs import RunError, RunWriter, prepare_run_dir
from baselines.training import curve_seed

SUMMARY_KEYS = {
    "algo",
    "env_id",
    "seed",
    "device",
    "env_steps",
    "wall_seconds",
    "eval_return_mean",
    "eval_return_std",
    "solved_env_steps",
    "solved_wall_seconds",
    "test_return_mean",
    "test_return_std",
    "test_return_min",
    "test_episodes",
    "test_checkpoint",
}
RUN_FILES = ["best_policy.safetensors", "config.json", "metrics.csv", "policy.safetensors", "summary.json"]
TINY_ARS = ["--n-directions", "4", "--top-b", "2"]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def train_ars(out: Path, *extra: str) -> int:
    argv = ["train", "ars", "--env", "ContinuousCartPole-v0", "--device", "cpu", "--out", str(out), "--no-progress"]
    return main([*argv, *TINY_ARS, *extra])


@pytest.fixture(scope="module")
def ars_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ARS run; tests copy it before changing anything."""
    out = tmp_path_factory.mktemp("ars") / "run"
    assert train_ars(out, "--total-steps", "1000", "--eval-every", "500") == 0
    return out


# --- checkpoints -------------------------------------------------------------------------------------------------


def test_checkpoint_round_trip_keeps_tensors_and_metadata_types(tmp_path: Path) -> None:
    tensors = {
        "weights": torch.randn(4, 2).T,  # not contiguous: saving must not need the caller to fix that
        "counts": torch.arange(5),
        "log_std": torch.tensor([-0.5], dtype=torch.float64),
    }
    metadata = {"algo": "ars", "hidden_size": 16, "learning_rate": 0.01, "continuous": True}
    path = tmp_path / "policy.safetensors"
    save_checkpoint(path, tensors, metadata)
    loaded, loaded_metadata = load_checkpoint(path)
    assert loaded_metadata == metadata
    assert type(loaded_metadata["hidden_size"]) is int and type(loaded_metadata["continuous"]) is bool
    assert loaded.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype
        assert torch.equal(loaded[name], tensor)


class _WritesMarkerWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _corrupt_bytes(kind: str, tmp_path: Path) -> bytes:
    valid = safetensors_save({"w": torch.ones(8)}, metadata={"format": "continuous-cartpole-policy/1"})
    tensors = {"weights": torch.ones(1, 4)}
    buffer = io.BytesIO()
    if kind == "truncated":
        return valid[:-7]
    if kind == "empty":
        return b""
    if kind == "random bytes":
        return np.random.default_rng(0).bytes(256)
    if kind == "torch.save zip":
        torch.save(tensors, buffer)
        return buffer.getvalue()
    if kind == "torch.save legacy pickle":
        torch.save(tensors, buffer, _use_new_zipfile_serialization=False)
        return buffer.getvalue()
    if kind == "code-running pickle":
        return pickle.dumps(_WritesMarkerWhenUnpickled(tmp_path / "marker"))
    if kind == "foreign safetensors":
        return safetensors_save(tensors)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("truncated", "truncated or corrupt"),
        ("empty", "truncated or corrupt"),
        ("random bytes", "truncated or corrupt"),
        ("torch.save zip", "zip archive"),
        ("torch.save legacy pickle", "pickle"),
        ("code-running pickle", "pickle"),
        ("foreign safetensors", "not a policy checkpoint"),
    ],
)
def test_bad_checkpoints_are_refused_naming_the_file(kind: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.safetensors"
    path.write_bytes(_corrupt_bytes(kind, tmp_path))
    with pytest.raises(CheckpointError, match=problem) as error:
        load_checkpoint(path)
    assert str(path) in str(error.value)
    assert not (tmp_path / "marker").exists()  # nothing was unpickled


def test_checkpoint_with_nan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.safetensors"
    save_checkpoint(path, {"weights": torch.tensor([1.0, float("nan")])}, {})
    with pytest.raises(CheckpointError, match="NaN") as error:
        load_checkpoint(path)
    assert str(path) in str(error.value)


# --- atomic writes -----------------------------------------------------------------------------------------------


def test_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["summary.json"]


@pytest.mark.parametrize("interruption", [RuntimeError, KeyboardInterrupt])
def test_failure_mid_write_keeps_the_old_file(interruption: type[BaseException], tmp_path: Path) -> None:
    target = tmp_path / "metrics.csv"
    atomic_write_text(target, "old contents")
    with pytest.raises(interruption), atomic_path(target) as temporary:
        temporary.write_text("half of the new con")
        raise interruption
    assert target.read_text() == "old contents"
    assert os.listdir(tmp_path) == ["metrics.csv"]


def test_failed_checkpoint_write_keeps_the_old_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policy.safetensors"
    save_checkpoint(path, {"weights": torch.zeros(4)}, {"version": 1})
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(baselines.atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"weights": torch.ones(4)}, {"version": 2})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["policy.safetensors"]


# --- run directories ---------------------------------------------------------------------------------------------


def test_run_dir_refuses_non_empty_unless_overwrite_and_overwrite_deletes_only_run_files(tmp_path: Path) -> None:
    (tmp_path / "metrics.csv").write_text("old run")
    killed = tmp_path / ".metrics.csv.1a2b3c4d.tmp.csv"  # no pid in the name (older versions): stale after a day
    killed.write_text("left by a killed process")
    os.utime(killed, (0, 0))
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(RunError, match="not empty"):
        prepare_run_dir(tmp_path, overwrite=False, owned_files=["metrics.csv"])
    assert (tmp_path / "metrics.csv").read_text() == "old run"
    prepare_run_dir(tmp_path, overwrite=True, owned_files=["metrics.csv", "summary.json"])
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_run_dir_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(RunError, match="not a directory"):
        prepare_run_dir(tmp_path / "file", overwrite=True, owned_files=[])


# --- CLI end to end ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algo", "env", "flags", "expected_config"),
    [
        (
            "ars",
            "continuous_cartpole:ContinuousCartPole-v0",
            ["--n-directions", "4", "--top-b", "None", "--no-normalize-states", "--noise-std", "0.2"],
            {"n_directions": 4, "top_b": None, "normalize_states": False, "noise_std": 0.2},
        ),
        (
            "reinforce",
            "DiscreteCartPole-v0",
            ["--episodes-per-update", "4", "--hidden-size", "16", "--learning-rate", "0.02"],
            {"episodes_per_update": 4, "hidden_size": 16, "learning_rate": 0.02},
        ),
    ],
)
def test_train_evaluate_load_policy(
    algo: str, env: str, flags: list[str], expected_config: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "run"
    seed = 3
    argv = ["train", algo, "--env", env, "--seed", str(seed), "--device", "cpu", "--out", str(out)]
    argv += ["--total-steps", "1200", "--eval-every", "400", "--keep-training", *flags]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "eval_return=" in captured.err  # the progress bar shows the latest evaluation return
    assert str(out) in captured.out

    config = read_json(out / "config.json")
    registered, _, package = env.rpartition(":")[::-1]  # the run stores the registered id, the package apart
    assert (config["algo"], config["env_id"], config.get("gym_package")) == (algo, registered, package or None)
    assert config["config"]["seed"] == seed and config["config"]["stop_when_solved"] is False
    assert {name: config["config"][name] for name in expected_config} == expected_config
    summary = read_json(out / "summary.json")
    assert summary.keys() >= SUMMARY_KEYS
    assert (summary["algo"], summary["env_id"], summary["seed"], summary["device"]) == (algo, registered, seed, "cpu")
    assert summary["status"] == "finished" and summary["env_steps"] >= 1200
    rows = read_metrics(out)
    assert len(rows) == summary["evaluations"] >= 2
    steps = [int(row["env_steps"]) for row in rows]
    walls = [float(row["wall_seconds"]) for row in rows]
    assert steps == sorted(steps) and walls == sorted(walls) and steps[-1] == summary["env_steps"]
    assert float(rows[-1]["eval_return_mean"]) == summary["eval_return_mean"]
    assert summary["wall_seconds"] >= walls[-1]
    assert sorted(os.listdir(out)) == RUN_FILES

    # The last checkpoint is the final policy: replaying the last curve evaluation gives the same returns.
    last_seed = curve_seed(seed, summary["evaluations"] - 1, 20)
    args = ["evaluate", str(out), "--episodes", "20", "--seed", str(last_seed), "--checkpoint", "last", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["return_mean"] == summary["eval_return_mean"]
    assert result["return_std"] == summary["eval_return_std"]
    assert (result["algo"], result["env_id"], result["episodes"]) == (algo, registered, 20)

    policy = load_policy(out)
    continuous = "Continuous" in env
    single, _ = policy.predict(np.zeros(4, dtype=np.float32), deterministic=True)
    batch, _ = policy.predict(np.zeros((3, 4), dtype=np.float32), deterministic=True)
    assert (single.shape, batch.shape) == (((1,), (3, 1)) if continuous else ((), (3,)))
    assert single.dtype == (np.float32 if continuous else np.int64)


def test_evaluate_prints_a_readable_line(ars_run: Path, capsys: Any) -> None:
    assert main(["evaluate", str(ars_run), "--episodes", "20"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("ars on ContinuousCartPole-v0: return ") and "over 20 episodes" in line


def test_ctrl_c_keeps_the_last_checkpoint_and_metrics(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = []
    write_files = RunWriter.on_evaluation

    def interrupt_at_second_evaluation(self: RunWriter, record: Any, policy: Any, is_best: bool) -> None:
        records.append(record)
        if len(records) == 2:
            raise KeyboardInterrupt
        write_files(self, record, policy, is_best)

    monkeypatch.setattr(RunWriter, "on_evaluation", interrupt_at_second_evaluation)
    out = tmp_path / "run"
    assert train_ars(out, "--seed", "5", "--total-steps", "20000", "--eval-every", "300", "--keep-training") == 130
    first, second = records
    assert f"env step {first.env_steps}" in capsys.readouterr().out

    assert [int(row["env_steps"]) for row in read_metrics(out)] == [first.env_steps]
    summary = read_json(out / "summary.json")
    assert summary["status"] == "interrupted"
    assert (summary["evaluations"], summary["checkpoint_env_steps"]) == (1, first.env_steps)
    assert summary["env_steps"] == second.env_steps
    assert summary["eval_return_mean"] == first.eval_return_mean
    assert sorted(os.listdir(out)) == RUN_FILES
    # The checkpoint is the policy of the first evaluation.
    returns = evaluate(load_policy(out, "last"), "ContinuousCartPole-v0", episodes=20, seed=curve_seed(5, 0, 20))
    assert float(returns.mean()) == first.eval_return_mean


def test_existing_out_dir_is_refused_unless_overwrite(ars_run: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    shutil.copytree(ars_run, out)
    (out / "notes.txt").write_text("mine")
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    assert train_ars(out, "--total-steps", "500") == 2
    assert "not empty" in capsys.readouterr().err
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before

    assert train_ars(out, "--total-steps", "500", "--eval-every", "500", "--overwrite", "--seed", "9") == 0
    assert read_json(out / "config.json")["config"]["seed"] == 9
    assert (out / "notes.txt").read_text() == "mine"
    assert len(read_metrics(out)) == read_json(out / "summary.json")["evaluations"]


# --- CLI errors: exit code 2, a message on stderr, no traceback, no run directory ----------------------------------

ERROR_CASES = [
    (["train", "ars", "--env", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
    (["train", "ars", "--env", "no_such_module:Env-v0"], "cannot import module 'no_such_module'"),
    (["train", "ars", "--env", "CartPole-v1"], "ars cannot train on CartPole-v1"),
    (["train", "reinforce", "--env", "DiscreteCartPole-v0", "--notebook-linear"], "--notebook-linear only applies"),
    (["train", "reinforce", "--env", "DiscreteCartPole-v0", "--init-log-std", "0"], "--init-log-std only applies"),
    (["train", "ars", "--env", "DiscreteCartPole-v0", "--top-b", "9"], "invalid ars configuration"),
    (["train", "ars", "--env", "DiscreteCartPole-v0", "--eval-episodes", "5"], "eval_episodes must be at least 20"),
    (["train", "ars", "--env", "DiscreteCartPole-v0", "--n-directions", "four"], "Error parsing --n-directions"),
    (["train", "ars", "--env", "DiscreteCartPole-v0", "--device", "tpu"], "unknown device 'tpu'"),
    (["train", "ars", "--env", "DiscreteCartPole-v0", "--seed", "-1"], "a seed must be a non-negative integer"),
    (["train", "reinforce", "--env", "DiscreteCartPole-v0", "--learning-rate", "inf"], "learning_rate must be"),
]


@pytest.mark.parametrize(("argv", "message"), ERROR_CASES)
def test_cli_errors(argv: list[str], message: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "RUN", "--seed", "-1"],
        ["render", "--env", "DiscreteCartPole-v0", "--human", "--seed", "-1"],
        ["play", "--seed", "-1"],
    ],
)
def test_negative_seeds_are_refused_by_every_command(argv: list[str], ars_run: Path, capsys: Any) -> None:
    assert main([str(ars_run) if arg == "RUN" else arg for arg in argv]) == 2
    err = " ".join(capsys.readouterr().err.split())  # tyro wraps its messages
    assert "a seed must be a non-negative integer, got '-1'" in err and "Traceback" not in err


def test_diverging_training_is_a_clear_error_and_saves_no_nan_checkpoint(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    argv = ["train", "reinforce", "--env", "DiscreteCartPole-v0", "--device", "cpu", "--out", str(out)]
    flags = ["--learning-rate", "1e30", "--total-steps", "5000", "--eval-every", "100", "--no-progress"]
    assert main([*argv, *flags]) == 2
    err = capsys.readouterr().err
    assert "training diverged by env step" in err and "Traceback" not in err
    summary = read_json(out / "summary.json")
    assert summary["status"] == "failed" and "TrainingDiverged" in summary["error"]
    assert summary["evaluations"] >= 1
    load_policy(out)  # the checkpoint kept is the last finite policy: it loads


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_refused(tmp_path: Path, capsys: Any) -> None:
    assert train_ars(tmp_path / "run", "--device", "cuda") == 2
    assert "CUDA" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@dataclass(frozen=True)
class _DiscreteOnlyARSConfig(ARSConfig):
    pass


def test_algorithm_refused_on_an_action_space_it_does_not_support(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    discrete_only = dataclasses.replace(
        ALGORITHMS["ars"],
        name="ars-discrete",
        action_spaces=frozenset({DISCRETE}),
        config_class="_DiscreteOnlyARSConfig",  # every algorithm has its own config class
        config_module=__name__,
    )
    monkeypatch.setitem(ALGORITHMS, "ars-discrete", discrete_only)
    argv = ["train", "ars-discrete", "--env", "ContinuousCartPole-v0", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "ars-discrete only supports discrete action spaces" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", "is truncated or corrupt"),
        ("torch.save", "is a zip archive"),
        ("delete", "does not exist"),
    ],
)
def test_evaluate_refuses_a_bad_checkpoint_naming_it(
    damage: str, message: str, ars_run: Path, tmp_path: Path, capsys: Any
) -> None:
    run = tmp_path / "run"
    shutil.copytree(ars_run, run)
    checkpoint = run / "best_policy.safetensors"  # the one evaluate loads by default
    if damage == "truncate":
        checkpoint.write_bytes(checkpoint.read_bytes()[:-10])
    elif damage == "torch.save":
        torch.save(load_checkpoint(checkpoint)[0], checkpoint)
    else:
        checkpoint.unlink()
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {checkpoint} {message}" in err and "Traceback" not in err
    with pytest.raises(CheckpointError, match=message):
        load_policy(run)


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path: Path, capsys: Any) -> None:
    assert main(["evaluate", str(tmp_path)]) == 2
    assert f"{tmp_path} is not a run directory" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


# --- flags generated from config dataclasses ---------------------------------------------------------------------


@dataclass(frozen=True)
class _FlagTypesConfig:
    env_id: str
    seed: int = 0
    device: str = "auto"
    total_steps: int = 1000
    eval_every: int = 500
    eval_episodes: int = 20
    stop_when_solved: bool = True
    progress: bool = False
    mode: Literal["fast", "slow"] = "fast"  # how to go
    # sizes of the hidden layers
    hidden: tuple[int, ...] = (8, 8)
    clip: float | None = 1.0  # None: no clipping
    shuffle: bool = True


class _StopBeforeTraining(Exception):
    pass


def train(config: _FlagTypesConfig, monitor: Any = None) -> Any:
    """The algorithm entry of ``flag_types``: records the config it was given and stops."""
    train.config = config  # type: ignore[attr-defined]
    raise _StopBeforeTraining


def test_config_fields_become_typed_flags(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        ALGORITHMS, "flag-types", Algorithm("flag-types", __name__, "_FlagTypesConfig", "test", config_module=__name__)
    )
    assert main(["train", "flag-types", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for flag in ("--mode {fast,slow}", "--hidden [INT [INT ...]]", "--clip {None}|FLOAT", "--shuffle, --no-shuffle"):
        assert flag in help_text
    assert "how to go (default: fast)" in help_text and "sizes of the hidden layers (default: 8 8)" in help_text

    out = tmp_path / "run"
    argv = ["train", "flag-types", "--env", "DiscreteCartPole-v0", "--out", str(out), "--no-progress"]
    with pytest.raises(_StopBeforeTraining):
        main([*argv, "--mode", "slow", "--hidden", "3", "4", "5", "--clip", "None", "--no-shuffle"])
    assert dataclasses.asdict(train.config) == {  # type: ignore[attr-defined]
        **dataclasses.asdict(_FlagTypesConfig("DiscreteCartPole-v0", progress=False)),
        "mode": "slow",
        "hidden": (3, 4, 5),
        "clip": None,
        "shuffle": False,
    }
    summary = read_json(out / "summary.json")  # a failed run still says what happened
    assert summary["status"] == "failed" and "_StopBeforeTraining" in summary["error"]
    assert main([*argv, "--overwrite", "--mode", "medium"]) == 2
    assert "Invalid choice" in capsys.readouterr().err
