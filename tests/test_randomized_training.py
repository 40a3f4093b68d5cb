"""``train --randomize``: the training envs draw their physics per episode (torch env for ARS and REINFORCE, SB3's
envs for SB3), so do the run's curve evaluations and confirmations, the held-out test and ``evaluate`` stay nominal
unless ``evaluate --randomize`` asks, and the run's config records it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import baselines
from baselines import ars, reinforce, sb3, training
from baselines.cli import main
from baselines.configs import ARSConfig, parse_randomize
from baselines.evaluation import evaluate

ENV_ID = "ContinuousCartPole-v0"
TINY = ["--device", "cpu", "--no-progress", "--total-steps", "300", "--eval-every", "300"]


def captured_envs(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[tuple[dict[str, Any], Any]]:
    """Record the keywords and the env of every call to ``module.name`` (an env factory)."""
    made: list[tuple[dict[str, Any], Any]] = []
    factory = getattr(module, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        env = factory(*args, **kwargs)
        made.append((kwargs, env))
        return env

    monkeypatch.setattr(module, name, recording)
    return made


@pytest.mark.parametrize("algo", ["ars", "reinforce"])
def test_torch_env_algorithms_train_on_physics_drawn_per_sub_env(
    algo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = {"ars": ars, "reinforce": reinforce}[algo]
    made = captured_envs(monkeypatch, module, "make_torch_vector_env")
    out = tmp_path / "run"
    argv = ["train", algo, "--env", ENV_ID, "--out", str(out), *TINY, "--randomize", "length=0.25:1.0"]
    assert main([*argv, "--randomize", "masspole=0.05:0.5:uniform"]) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["randomize"] == ["length=0.25:1.0", "masspole=0.05:0.5:uniform"]
    [(kwargs, envs)] = made
    assert kwargs["randomize"] == {"length": (0.25, 1.0), "masspole": (0.05, 0.5, "uniform")}
    params = envs.params  # the physics of the sub-envs' latest episodes
    for name, (low, high) in (("length", (0.25, 1.0)), ("masspole", (0.05, 0.5))):
        values = np.asarray(getattr(params, name))
        assert values.shape == (envs.num_envs,) and len(np.unique(values)) == envs.num_envs
        assert ((low <= values) & (values <= high)).all()


def test_sb3_trains_and_evaluates_on_randomized_envs_and_tests_on_the_nominal_physics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = captured_envs(monkeypatch, sb3, "make_vec_env")
    evaluated: list[Any] = []
    real_evaluate = training.evaluate_episodes

    def recording_evaluate(*args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        evaluated.append(kwargs.get("env_kwargs"))
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate_episodes", recording_evaluate)
    out = tmp_path / "run"
    assert main(["train", "ppo", "--env", ENV_ID, "--out", str(out), *TINY, "--randomize", "force_mag=5:15"]) == 0
    [(kwargs, envs)] = made
    assert kwargs["env_kwargs"] == {"randomize": {"force_mag": (5.0, 15.0)}}
    forces = [params.force_mag for params in envs.get_attr("params")]
    assert all(5.0 <= force <= 15.0 for force in forces) and forces != [10.0] * len(forces)
    # curve evaluations (and confirmations) on the training physics, the held-out test (the last) on the nominal
    assert len(evaluated) >= 2 and evaluated[-1] is None
    assert all(env_kwargs == {"randomize": {"force_mag": (5.0, 15.0)}} for env_kwargs in evaluated[:-1])
    assert json.loads((out / "config.json").read_text())["config"]["randomize"] == ["force_mag=5:15"]


def test_evaluate_is_nominal_unless_asked(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert main(["train", "ars", "--env", ENV_ID, "--out", str(out), *TINY, "--randomize", "length=0.25:1.0"]) == 0
    capsys.readouterr()
    policy, seed = baselines.load_policy(out), training.test_seed(0)
    assert main(["evaluate", str(out), "--episodes", "30", "--json"]) == 0
    nominal = json.loads(capsys.readouterr().out)
    assert nominal["return_mean"] == float(np.mean(evaluate(policy, ENV_ID, 30, seed)))
    assert main(["evaluate", str(out), "--episodes", "30", "--json", "--randomize", "length=0.05:2.0"]) == 0
    randomized = json.loads(capsys.readouterr().out)
    physics = {"randomize": {"length": (0.05, 2.0)}}
    assert randomized["return_mean"] == float(np.mean(evaluate(policy, ENV_ID, 30, seed, env_kwargs=physics)))
    assert randomized["randomize"] == ["length=0.05:2.0"] and randomized["return_mean"] != nominal["return_mean"]


@pytest.mark.parametrize(
    ("env_id", "entry", "message"),
    [
        (ENV_ID, "length=0.001:1.0", "length must lie in [0.01, 100]"),
        (ENV_ID, "length:0.25:1.0", "must look like NAME=LOW:HIGH"),
        (ENV_ID, "pole=0.25:1.0", "unknown CartPole parameter 'pole'"),
        ("ContinuousCartPoleSwingUp-v0", "tau=0.005:0.02", "the swing-up ids set tau=0.01"),
    ],
)
def test_a_bad_randomize_is_one_line_before_the_run_directory_exists(
    env_id: str, entry: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    for algo in ("ars", "ppo"):  # the torch env and SB3's (NumPy) envs
        assert main(["train", algo, "--env", env_id, "--out", str(out), *TINY, "--randomize", entry]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
        assert not out.exists()


def test_configs_parse_randomize_and_keep_it_json_round_trippable() -> None:
    assert parse_randomize(("length=0.25:1", "tau=0.01:0.03:log-uniform")) == {
        "length": (0.25, 1.0),
        "tau": (0.01, 0.03, "log-uniform"),
    }
    with pytest.raises(ValueError, match="names length twice"):
        parse_randomize(("length=0.25:1", "length=0.3:1"))
    config = ARSConfig(ENV_ID, randomize=["length=0.25:1.0"])  # type: ignore[arg-type]  (config.json holds a list)
    assert config.randomize == ("length=0.25:1.0",)
    with pytest.raises(ValueError, match=r"ARSConfig\.randomize"):
        ARSConfig(ENV_ID, randomize=("length=2:1",))
