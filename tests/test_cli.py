"""The ``cartpole-baselines`` command line as users meet it: fast help, tyro flags, TensorBoard, zoo files, plot."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from baselines.algorithms import ALGORITHMS
from baselines.cli import main

HEAVY_MODULES = ("torch", "stable_baselines3", "matplotlib")
DISCRETE_ID = "DiscreteCartPole-v0"
CONTINUOUS_ID = "ContinuousCartPole-v0"
TINY_RUN = ["--device", "cpu", "--no-progress", "--eval-every", "400"]


def imported_modules(*argv: str) -> tuple[int, str, set[str]]:
    """Run ``python -X importtime -m baselines ARGV``: exit code, stdout+stderr, and every module it imported."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "baselines", *argv], capture_output=True, text=True, check=False
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if line.startswith("import")}
    return completed.returncode, completed.stdout + completed.stderr, modules


HELP_ARGVS = [
    [],
    ["train"],
    *(["train", name] for name in ALGORITHMS),
    ["evaluate"],
    ["robustness"],
    ["compare"],
    ["plot"],
    ["render"],
    ["play"],
]
ARGUMENT_ERRORS = [
    ["train", "ars", "--env", DISCRETE_ID, "--out", "unused", "--bogus"],
    ["train", "ppo", "--env", DISCRETE_ID],  # no --out
    ["train", "reinforce", "--env", DISCRETE_ID, "--out", "unused", "--seed", "-1"],
    ["train", "ars", "--env", DISCRETE_ID, "--out", "unused", "--top-b", "9"],  # refused by ARSConfig itself
    ["evaluate"],
    ["robustness", "unused", "--vary", "length=0.001:2:8", "--out", "unused"],  # outside the valid range
    ["compare", "--out", "unused", "--workers", "two"],
    ["plot", "a", "b"],
    ["render", "--episodes", "many"],
    ["play", "--ramp-seconds", "slow"],
    ["no-such-command"],
    ["train", "PPO", "--env", DISCRETE_ID, "--out", "unused"],  # did you mean 'ppo'?
    ["train", "ppo", "--env", DISCRETE_ID, "--out", "unused", "--hyperparams", '{"gamma": 2}'],  # SB3 not imported
]


@pytest.mark.parametrize("argv", HELP_ARGVS, ids=lambda argv: " ".join(argv) or "top")
def test_help_of_every_subcommand_imports_no_torch_sb3_or_matplotlib(argv: list[str]) -> None:
    code, output, modules = imported_modules(*argv, "--help")
    assert code == 0, output
    assert "usage: cartpole-baselines" in output
    assert "baselines.cli" in modules and not modules & set(HEAVY_MODULES)
    assert not modules & {"gymnasium", "numpy"}  # together ~0.12 s, most of an idle machine's help otherwise


def test_help_into_a_closed_pipe_ends_quietly() -> None:
    """``cartpole-baselines train ars --help | head -1``: the reader is gone before the help is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE (Python ignores SIGPIPE)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "baselines", "train", "ars", "--help"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert completed.stderr == ""  # before: "cartpole-baselines train: error: Broken pipe"
    assert completed.returncode == 141


@pytest.mark.parametrize("argv", ARGUMENT_ERRORS, ids=lambda argv: " ".join(argv))
def test_argument_errors_import_no_torch_sb3_or_matplotlib(argv: list[str], tmp_path: Path) -> None:
    code, output, modules = imported_modules(*argv)
    assert code == 2, output
    assert "Traceback" not in output
    assert not modules & set(HEAVY_MODULES)
    assert not (tmp_path / "unused").exists()


def test_train_help_shows_the_algorithms_own_hyperparams_example(capsys: Any) -> None:
    helps = {}
    for algo in ("ppo", "sac", "td3"):
        assert main(["train", algo, "--help"]) == 0
        helps[algo] = " ".join(capsys.readouterr().out.split())
    assert "n_steps" in helps["ppo"] and "--n-envs" in helps["ppo"]
    for algo in ("sac", "td3"):  # one env each, and no n_steps: that is PPO's
        assert "n_steps" not in helps[algo] and "--n-envs" not in helps[algo]
    assert "buffer_size" in helps["sac"] and "noise_type" in helps["td3"]


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "sac", "td3", "sb3-ars"])
def test_each_sb3_help_example_is_accepted_by_its_algorithm(algo: str) -> None:
    config_type = ALGORITHMS[algo].config_type()
    env_id = DISCRETE_ID if "discrete" in ALGORITHMS[algo].action_spaces else CONTINUOUS_ID
    config = config_type(env_id, hyperparams=config_type.HYPERPARAMS_EXAMPLE)
    assert json.loads(config_type.HYPERPARAMS_EXAMPLE).items() <= config.sb3_hyperparams.items()


@pytest.mark.parametrize(("key", "flag"), [("tensorboard_log", "--tensorboard-log"), ("n_timesteps", "--total-steps")])
def test_hyperparams_cannot_set_what_the_run_sets(key: str, flag: str, tmp_path: Path, capsys: Any) -> None:
    argv = ["train", "ppo", "--env", DISCRETE_ID, "--out", str(tmp_path / "run")]
    assert main([*argv, "--hyperparams", json.dumps({key: 1})]) == 2
    err = capsys.readouterr().err
    assert f"{key} is set by the run; use {flag} instead" in err
    assert not (tmp_path / "run").exists()


# --- rl-baselines3-zoo's hyperparameter files and --n-envs ----------------------------------------------------------

ZOO_FILE = """
    CartPole-v1:
      policy: 'MlpPolicy'
      n_timesteps: !!float 1e5
    DiscreteCartPole-v0:
      n_envs: 4
      n_timesteps: !!float 600
      policy: 'MlpPolicy'
      n_steps: 32
      learning_rate: lin_0.001
      policy_kwargs: "dict(net_arch=[16], activation_fn=nn.Tanh)"
"""


def test_train_takes_a_zoo_hyperparameter_file(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text(textwrap.dedent(ZOO_FILE), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["train", "ppo", "--env", DISCRETE_ID, "--out", str(out), "--hyperparams-file", str(path), *TINY_RUN]
    given = '{"n_steps": 16, "batch_size": 32, "policy_kwargs": {"net_arch": [8]}}'
    assert main([*argv, "--hyperparams", given, "--n-envs", "2"]) == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["total_steps"] == 600  # the file's n_timesteps
    resolved = config["sb3_hyperparams"]
    assert resolved["policy_kwargs"] == {"net_arch": [8], "activation_fn": "tanh"}  # merged key by key
    assert resolved["learning_rate"] == "lin_0.001"
    assert resolved["n_steps"] == 16 and resolved["n_envs"] == 2  # --hyperparams, then --n-envs, over the file
    summary = json.loads((out / "summary.json").read_text())
    assert 600 <= summary["env_steps"] < 600 + 2 * 16


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("CartPole-v1: {policy: MlpPolicy}", "has no entry for DiscreteCartPole-v0 and no 'default' entry; it lists"),
        ("DiscreteCartPole-v0: {normalize: true}", "normalize is not supported"),
        ("DiscreteCartPole-v0: {policy_kwargs: \"dict(x=__import__('os').getcwd())\"}", "policy_kwargs"),
        ("DiscreteCartPole-v0: {n_timesteps: -5}", "n_timesteps must be a whole number in [1, 2**53]"),
        ("[1, 2]", "is not rl-baselines3-zoo's layout"),
    ],
)
def test_bad_zoo_files_are_refused_before_the_run(entry: str, message: str, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text(entry, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "ppo", "--env", DISCRETE_ID, "--out", str(out), "--hyperparams-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and f"--hyperparams-file {path}" in err and "Traceback" not in err
    assert not out.exists()


# --- TensorBoard ------------------------------------------------------------------------------------------------


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the TensorBoard run in ``run_dir``, read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]
    }


# SB3's tags (EvalCallback's and its logger's) where SB3 logs the same quantity; ours where it has none.
SB3_EVAL_TAGS = {"eval/mean_reward", "eval/mean_ep_length", "time/fps", "time/time_elapsed", "time/total_timesteps"}
EVAL_TAGS = SB3_EVAL_TAGS | {"eval/return_std", "test/return_mean"}


@pytest.mark.parametrize(
    ("algo", "env_id", "own_tags"),
    [
        ("ars", CONTINUOUS_ID, {"rollout/ep_rew_mean", "ars/return_std", "ars/step_norm"}),
        ("reinforce", CONTINUOUS_ID, {"rollout/ep_rew_mean", "reinforce/loss", "reinforce/policy_std"}),
        ("ppo", DISCRETE_ID, {"train/loss", "train/entropy_loss", "rollout/ep_rew_mean", "rollout/ep_len_mean"}),
    ],
)
def test_train_writes_tensorboard_scalars(algo: str, env_id: str, own_tags: set[str], tmp_path: Path) -> None:
    out, log = tmp_path / "run", tmp_path / "tb"
    argv = ["train", algo, "--env", env_id, "--out", str(out), "--tensorboard-log", str(log), *TINY_RUN]
    assert main([*argv, "--total-steps", "1200", "--keep-training"]) == 0
    logged = scalars(log / algo / env_id / "seed0")
    assert logged.keys() >= EVAL_TAGS | own_tags
    assert not logged.keys() & {"eval/return_mean", "ars/return_mean", "reinforce/episode_return_mean"}  # renamed
    with open(out / "metrics.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    # One eval point per metrics.csv row, at the same env step and with the same return; the test at the end.
    assert [(step, pytest.approx(value)) for step, value in logged["eval/mean_reward"]] == [
        (int(row["env_steps"]), float(row["eval_return_mean"])) for row in rows
    ]
    # SB3's time/ tags come from the monitor alone, once per evaluation: steps per second since the start.
    for tag in SB3_EVAL_TAGS:
        assert [step for step, _ in logged[tag]] == [int(row["env_steps"]) for row in rows], tag
    for (step, fps), (_, elapsed) in zip(logged["time/fps"], logged["time/time_elapsed"], strict=True):
        assert fps == pytest.approx(step / elapsed, rel=1e-5) and fps > 0
    # a cart-pole pays at most 1 a step: an episode lasts at least its return, and at most the time limit
    for (_, length), (_, mean_return) in zip(logged["eval/mean_ep_length"], logged["eval/mean_reward"], strict=True):
        assert mean_return <= length <= 500 and length >= 1
    summary = json.loads((out / "summary.json").read_text())
    assert logged["test/return_mean"] == [(summary["env_steps"], pytest.approx(summary["test_return_mean"]))]


def test_compare_writes_one_tensorboard_run_per_training_run(tmp_path: Path) -> None:
    from baselines.compare import plan as compare_plan

    log = tmp_path / "tb"
    argv = ["compare", "--out", str(tmp_path / "out"), "--algos", "ars", "--envs", DISCRETE_ID, "--seeds", "2"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compare_plan, "QUICK_BUDGETS", {"ars": 800})
        assert (
            main(
                [
                    *argv,
                    "--quick",
                    "--workers",
                    "1",
                    "--eval-every",
                    "400",
                    "--no-progress",
                    "--tensorboard-log",
                    str(log),
                ]
            )
            == 0
        )
    for seed in (0, 1):
        assert scalars(log / "ars" / DISCRETE_ID / f"seed{seed}").keys() >= EVAL_TAGS


def test_compare_refuses_tensorboard_on_ray(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "out"
    argv = ["compare", "--out", str(out), "--ray", "local", "--tensorboard-log", str(tmp_path / "tb")]
    assert main(argv) == 2
    assert "--tensorboard-log works with local workers only, not with --ray" in capsys.readouterr().err
    assert not out.exists()


# --- plot RUN_DIR -------------------------------------------------------------------------------------------------


def test_plot_draws_one_runs_learning_curve(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    argv = ["train", "ars", "--env", DISCRETE_ID, "--out", str(out), *TINY_RUN, "--total-steps", "800"]
    assert main([*argv, "--keep-training"]) == 0
    assert main(["plot", str(out)]) == 0
    png = out / "learning_curve.png"
    assert png.read_bytes().startswith(b"\x89PNG") and str(png) in capsys.readouterr().out
    (out / "metrics.csv").write_text("env_steps,wall_seconds\n", encoding="utf-8")
    assert main(["plot", str(out)]) == 2
    assert "metrics.csv lacks the column(s) eval_return_mean" in capsys.readouterr().err


# --- the documentation's "From Python" section runs as written ----------------------------------------------------

BASELINES_PAGE = "docs/baselines.md"


def doc_python_block(page: str, section: str) -> str:
    """The first ```python block after the heading ``section`` in the documentation page ``page``."""
    text = (Path(__file__).parent.parent / page).read_text(encoding="utf-8")
    after = text.split(f"\n{section}\n", 1)[1]
    return after.split("```python\n", 1)[1].split("\n```", 1)[0]


def test_docs_from_python_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(doc_python_block(BASELINES_PAGE, "## From Python"), BASELINES_PAGE, "exec"), namespace)
    assert "solved after" in capsys.readouterr().out
    assert (tmp_path / "runs" / "ars-python" / "policy.safetensors").is_file()
    assert namespace["summary"]["status"] == "finished"
    assert namespace["action"].shape == (1,)
