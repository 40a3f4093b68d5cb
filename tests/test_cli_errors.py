"""Opening a run executes nothing, and bad input gives one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import baselines.atomic
from baselines.cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[1]


def train_ars(out: Path, env: str = "ContinuousCartPole-v0") -> int:
    argv = ["train", "ars", "--env", env, "--device", "cpu", "--out", str(out), "--no-progress"]
    return main([*argv, "--n-directions", "4", "--top-b", "2", "--total-steps", "400", "--eval-every", "400"])


@pytest.fixture(scope="module")
def ars_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ARS run on the continuous env; tests copy it before changing anything."""
    out = tmp_path_factory.mktemp("ars") / "run"
    assert train_ars(out) == 0
    return out


def copy_run(run: Path, tmp_path: Path, **config_changes: Any) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    config = json.loads((copy / "config.json").read_text())
    config.update(config_changes)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def one_line_error(capsys: pytest.CaptureFixture, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture
def booby_trapped_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module on sys.path that leaves a marker file when imported (what a run directory must never cause)."""
    name = "helpers_that_must_not_run"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name, marker


@pytest.mark.parametrize("command", ["evaluate", "render"])
def test_a_run_naming_a_module_imports_nothing(
    command: str, ars_run: Path, tmp_path: Path, booby_trapped_module: tuple[str, Path], capsys: Any
) -> None:
    name, marker = booby_trapped_module
    run = copy_run(ars_run, tmp_path, env_id=f"{name}:ContinuousCartPole-v0")
    argv = [command, str(run), "--episodes", "1"] + (["--out", str(tmp_path / "v.gif")] if command == "render" else [])
    assert main(argv) == EXIT_USAGE
    one_line_error(capsys, f"--gym-package {name}")
    assert not marker.exists() and name not in sys.modules


def test_a_runs_gym_package_is_imported_only_when_named_on_the_command_line(
    ars_run: Path, tmp_path: Path, booby_trapped_module: tuple[str, Path], capsys: Any
) -> None:
    name, marker = booby_trapped_module
    run = copy_run(ars_run, tmp_path, gym_package=name)
    assert main(["evaluate", str(run), "--episodes", "1"]) == EXIT_USAGE
    one_line_error(capsys, f"--gym-package {name}")
    assert not marker.exists()
    assert main(["evaluate", str(run), "--episodes", "1", "--gym-package", name]) == 0  # the user opted in
    assert marker.exists()


def test_train_stores_the_registered_id_and_the_package_apart(tmp_path: Path) -> None:
    assert train_ars(tmp_path / "run", env="continuous_cartpole:ContinuousCartPole-v0") == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["env_id"], config["gym_package"]) == ("ContinuousCartPole-v0", "continuous_cartpole")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"algo": ["ars"]}, "algo must be a non-empty string"),
        ({"env_id": 7}, "env_id must be a non-empty string"),
        ({"gym_package": "os; rm"}, "gym_package must be a module name"),
        ({"config": [1]}, "config must be a JSON object"),
        ({"config": {"seed": "3"}}, "config.seed must be an integer"),
        ({"config": {"seed": None}}, "config.seed must be an integer"),
        ({"config": {"seed": -1}}, "config.seed must be an integer"),
        ({"config": {"seed": 2**64}}, "config.seed must be an integer"),
    ],
)
def test_config_fields_of_the_wrong_type_are_one_line_errors(
    changes: dict[str, Any], problem: str, ars_run: Path, tmp_path: Path, capsys: Any
) -> None:
    run = copy_run(ars_run, tmp_path, **changes)
    assert main(["evaluate", str(run), "--episodes", "1"]) == EXIT_USAGE
    one_line_error(capsys, "config.json", problem)


def test_a_run_whose_env_does_not_fit_its_policy_is_refused(ars_run: Path, tmp_path: Path, capsys: Any) -> None:
    run = copy_run(ars_run, tmp_path, env_id="DiscreteCartPole-v0")
    assert main(["evaluate", str(run), "--episodes", "1"]) == EXIT_USAGE
    one_line_error(capsys, "policy has continuous actions", "DiscreteCartPole-v0 is discrete")


def test_an_empty_env_id_is_a_one_line_error(tmp_path: Path, capsys: Any) -> None:
    assert main(["train", "ars", "--env", "", "--out", str(tmp_path / "run")]) == EXIT_USAGE
    one_line_error(capsys, "non-empty string")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_during_training_is_one_line(
    code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def refuse(target: Any, data: bytes) -> None:
        raise OSError(code, os.strerror(code), str(target))

    monkeypatch.setattr(baselines.atomic, "atomic_write_bytes", refuse)
    assert train_ars(tmp_path / "run") == EXIT_FAILURE
    one_line_error(capsys, os.strerror(code), "config.json")


def run_cli_in_subprocess(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_ctrl_c_while_the_cli_imports_is_one_line_and_exit_130() -> None:
    # Ctrl-C arriving while gymnasium is being imported: the console script imports it only to run a command
    code = (
        "import builtins\n"
        "real_import = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'gymnasium':\n"
        "        raise KeyboardInterrupt\n"
        "    return real_import(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        "from baselines.cli import main\n"
        "raise SystemExit(main(['evaluate', 'nowhere']))\n"
    )
    result = run_cli_in_subprocess(code)
    assert result.returncode == EXIT_INTERRUPTED, result.stderr
    assert result.stderr.strip() == "cartpole-baselines evaluate: interrupted"


def test_evaluate_refuses_a_bad_randomize_range_before_loading_the_run(tmp_path: Path, capsys: Any) -> None:
    assert main(["evaluate", str(tmp_path), "--randomize", "length=2.0:1.0"]) == EXIT_USAGE  # tmp_path: no run
    one_line_error(capsys, "evaluate: error: --randomize: randomize['length']: low (2) must not exceed high (1)")


def test_evaluate_blames_randomize_only_for_its_own_errors(ars_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import baselines.evaluation

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug elsewhere")

    monkeypatch.setattr(baselines.evaluation, "evaluate", broken)
    with pytest.raises(ValueError, match=r"^a bug elsewhere$"):  # a bug's traceback, not a '--randomize: ' line
        main(["evaluate", str(ars_run), "--episodes", "2"])


def test_help_imports_no_torch_sb3_or_matplotlib() -> None:
    code = (
        "import sys\n"
        "from baselines.cli import main\n"
        "assert main(['--help']) == 0 and main(['train', '--help']) == 0\n"
        "print(sorted({'torch', 'stable_baselines3', 'matplotlib'} & set(sys.modules)))\n"
    )
    result = run_cli_in_subprocess(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
