"""SB3 hyperparameters: one validation for JSON, YAML and Python, and ``--hyperparams-file`` read as rl-baselines3-zoo
reads it (its own loader is the reference)."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import continuous_cartpole  # noqa: F401  (registers the ids the zoo looks up)
from baselines import sb3_validation
from baselines.cli import main
from baselines.configs import SB3_CONFIGS
from baselines.sb3_hyperparams import from_zoo_file

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_PPO = ROOT / "hyperparams" / "ppo.yml"
CONTINUOUS_ID, DISCRETE_ID = "ContinuousCartPole-v0", "DiscreteCartPole-v0"


@pytest.fixture(autouse=True)
def undo_rl_zoo3_patches() -> Iterator[None]:
    """Importing rl_zoo3 replaces Gymnasium's ``TimeLimit`` for the whole process (its ``gym_patches``): the wrapper
    it puts in place reports ``truncated`` differently, which would change every later test's ``gym.make`` envs."""
    import gymnasium.envs.registration
    import gymnasium.wrappers
    import gymnasium.wrappers.common

    patched = [
        (gymnasium.wrappers, "TimeLimit"),
        (gymnasium.wrappers.common, "TimeLimit"),
        (gymnasium.envs.registration, "TimeLimit"),  # absent until rl_zoo3 adds it
        (np, "bool8"),  # absent from NumPy 2
    ]
    missing = object()
    saved = [(owner, name, getattr(owner, name, missing)) for owner, name in patched]
    yield
    for owner, name, value in saved:
        if value is not missing:
            setattr(owner, name, value)
        elif hasattr(owner, name):
            delattr(owner, name)


def zoo_entry(algo: str, env_id: str, config: Path | None, log_folder: Path) -> dict[str, Any]:
    """The entry rl_zoo3's ExperimentManager reads for ``env_id`` (from its own file when ``config`` is None)."""
    from rl_zoo3.exp_manager import ExperimentManager

    manager = ExperimentManager(
        argparse.Namespace(), algo, env_id, str(log_folder), config=None if config is None else str(config), verbose=0
    )
    hyperparams, _ = manager.read_hyperparameters()
    return dict(hyperparams)


@pytest.mark.parametrize(
    ("algo", "env_id", "file"),
    [
        ("ppo", DISCRETE_ID, SHIPPED_PPO),
        ("ppo", CONTINUOUS_ID, SHIPPED_PPO),
        ("ppo", "CartPole-v1", SHIPPED_PPO),  # no entry: the file's default entry
        ("ppo", "CartPole-v1", None),  # the zoo's own files
        ("a2c", "CartPole-v1", None),
        ("dqn", "CartPole-v1", None),
        ("ars", "CartPole-v1", None),
    ],
)
def test_hyperparams_file_entry_is_the_one_rl_zoo3_reads(
    algo: str, env_id: str, file: Path | None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import rl_zoo3

    path = file or Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"
    expected = zoo_entry(algo, env_id, file, tmp_path)
    capsys.readouterr()  # the zoo prints what it loads
    values, budget = from_zoo_file(path, env_id)
    assert budget == int(expected.pop("n_timesteps"))
    if isinstance(expected.get("policy_kwargs"), str):  # the zoo evaluates it as Python when it builds the model
        expected["policy_kwargs"] = zoo_policy_kwargs(expected["policy_kwargs"])
    assert values == expected


def zoo_policy_kwargs(source: str) -> dict[str, Any]:
    """What the zoo's ``eval`` makes of a ``policy_kwargs`` string, with activations named as in our files."""
    from torch import nn

    from baselines.sb3 import ACTIVATIONS

    names = {torch_class: name for name, torch_class in ACTIVATIONS.items()}
    value = eval(source, {"dict": dict, "nn": nn})  # the zoo's own files: trusted, as the zoo trusts them
    if "activation_fn" in value:
        value["activation_fn"] = names[value["activation_fn"]]
    return value


def test_keys_a_file_entry_leaves_out_take_sb3s_defaults(tmp_path: Path) -> None:
    """As in the zoo: the table's values (gamma 0.98, batch_size 256 for PPO) must not fill the gaps."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from baselines.sb3 import build_model

    file = tmp_path / "ppo.yml"
    file.write_text("default:\n  policy: MlpPolicy\n  n_steps: 64\n  n_timesteps: 512\n", encoding="utf-8")
    out = tmp_path / "run"
    argv = ["train", "ppo", "--env", DISCRETE_ID, "--out", str(out), "--hyperparams-file", str(file)]
    assert main([*argv, "--no-progress", "--eval-every", "512", "--keep-training"]) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["sb3_hyperparams"] == {"policy": "MlpPolicy", "n_steps": 64}
    assert config["total_steps"] == 512 and config["hyperparams_base"] == "sb3"
    defaults = {name: p.default for name, p in inspect.signature(PPO.__init__).parameters.items()}
    envs = make_vec_env(DISCRETE_ID, n_envs=1)
    model = build_model("ppo", config["sb3_hyperparams"], envs, 0, torch.device("cpu"))
    assert (model.gamma, model.batch_size, model.n_steps) == (defaults["gamma"], defaults["batch_size"], 64)


def test_the_documented_hyperparams_file_example_exists_and_reads() -> None:
    page = (ROOT / "docs" / "baselines.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"--hyperparams-file ([\w/]+\.yml)", page)) - {"FILE.yml"}
    assert paths, "docs/baselines.md shows a --hyperparams-file example"
    for path in paths:
        values, budget = from_zoo_file(ROOT / path, DISCRETE_ID)
        assert values["policy"] == "MlpPolicy" and budget == 100_000


def test_a_dict_from_python_is_validated_as_json_text_is() -> None:
    given = {"n_steps": 64, "policy_kwargs": {"net_arch": [32]}}
    config = SB3_CONFIGS["ppo"](DISCRETE_ID, hyperparams=given)
    given["policy_kwargs"]["net_arch"].append(8)  # the config keeps its own copy
    assert config.hyperparams == {"n_steps": 64, "policy_kwargs": {"net_arch": [32]}}
    assert config.sb3_hyperparams["n_steps"] == 64 and config.sb3_hyperparams["policy_kwargs"] == {"net_arch": [32]}
    text = SB3_CONFIGS["ppo"](DISCRETE_ID, hyperparams='{"n_steps": 64, "policy_kwargs": {"net_arch": [32]}}')
    assert text.sb3_hyperparams == config.sb3_hyperparams
    with pytest.raises(ValueError, match="gamma must be a finite number in \\[0, 1\\], got 2"):
        SB3_CONFIGS["ppo"](DISCRETE_ID, hyperparams={"gamma": 2})


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


# (algo, env, hyperparams, what the one-line refusal says): each case was a hang, a traceback or silently accepted.
REFUSED = [
    ("sb3-ars", DISCRETE_ID, {"n_delta": 0}, "n_delta must be an integer in [1, "),  # was a hang in learn
    ("ppo", DISCRETE_ID, "[" * 100_000 + "]" * 100_000, "nested deeper than"),  # RecursionError
    ("ppo", DISCRETE_ID, {"policy_kwargs": _deep(10_000)}, "nested deeper than"),
    ("ppo", DISCRETE_ID, {"batch_size": 1e12}, "batch_size must be an integer in [1, "),
    ("ppo", DISCRETE_ID, {"n_epochs": 1e9}, "n_epochs must be an integer in [1, 1000]"),
    ("ppo", DISCRETE_ID, {"n_epochs": 10**9}, "n_epochs must be an integer in [1, 1000]"),
    ("ppo", DISCRETE_ID, {"policy_kwargs": {"net_arch": [100_000] * 4}}, "over the 2.0 GiB memory budget"),
    ("ppo", DISCRETE_ID, {"max_grad_norm": "x"}, "max_grad_norm must be a positive finite number"),
    ("ppo", CONTINUOUS_ID, {"policy_kwargs": {"log_std_init": 1e308}}, "log_std_init must be a finite number in"),
    ("dqn", DISCRETE_ID, {"buffer_size": 10**12}, "buffer_size must be an integer in [1, "),
    ("dqn", DISCRETE_ID, {"buffer_size": 10**9}, "over the 2.0 GiB memory budget"),
    ("dqn", DISCRETE_ID, {"exploration_fraction": "nan"}, "exploration_fraction must be a finite number in [0, 1]"),
    ("sac", CONTINUOUS_ID, {"policy_kwargs": {"n_critics": 100_000}}, "n_critics must be an integer in [1, 10]"),
    ("a2c", DISCRETE_ID, {"n_steps": 0}, "n_steps must be an integer in [1, "),  # UnboundLocalError
    ("td3", CONTINUOUS_ID, {"policy_delay": 0}, "policy_delay must be an integer in [1, "),  # ZeroDivisionError
    ("ppo", DISCRETE_ID, {"n_envs": 10**6}, "over the 2.0 GiB memory budget"),  # a segfault at 2.5 GB
    ("ppo", DISCRETE_ID, {"gamma": 2}, "gamma must be a finite number in [0, 1]"),
    ("ppo", DISCRETE_ID, {"learning_rate": "lin_-0.001"}, 'learning_rate must be a positive finite number or "lin_X"'),
    ("ppo", DISCRETE_ID, {"stats_window_size": 0}, "stats_window_size must be an integer in [1, "),
    ("dqn", DISCRETE_ID, {"target_update_interval": 0}, "target_update_interval must be an integer in [1, "),
    ("dqn", DISCRETE_ID, {"gradient_steps": -5}, "gradient_steps must be an integer in [1, 10000] or -1"),
    ("sb3-ars", CONTINUOUS_ID, {"delta_std": -1}, "delta_std must be a positive finite number"),
    ("sb3-ars", DISCRETE_ID, {"n_top": 100}, "n_top (100) must not exceed n_delta (2)"),
    ("ppo", DISCRETE_ID, {"policy": "CnnPolicy"}, "policy must be one of MlpPolicy"),
    ("ppo", DISCRETE_ID, {"n_stepz": 8}, "n_stepz not accepted by PPO (did you mean n_steps?); known: "),
    ("ppo", DISCRETE_ID, {"N_STEPS": 8}, "N_STEPS not accepted by PPO (did you mean n_steps?); known: "),
    ("ppo", DISCRETE_ID, {"policy_kwargs": {"netarch": [8]}}, "policy_kwargs.netarch is not settable for PPO's"),
    ("ppo", DISCRETE_ID, {"rollout_buffer_class": None}, "rollout_buffer_class cannot be set here"),
    ("ppo", DISCRETE_ID, {"policy_kwargs": {"optimizer_class": "adam"}}, "optimizer_class is not settable"),
    ("ppo", DISCRETE_ID, {"batch_size": 1}, "batch_size must be at least 2 for PPO"),
    ("ppo", DISCRETE_ID, {"n_steps": 1, "n_envs": 1}, "n_steps x n_envs must be at least 2 for PPO"),
    ("a2c", DISCRETE_ID, {"use_sde": True}, "use_sde (gSDE) needs a continuous action space"),
    ("ppo", CONTINUOUS_ID, {"policy_kwargs": {"squash_output": True}}, "squash_output needs use_sde"),
    ("dqn", DISCRETE_ID, {"policy_kwargs": {"net_arch": {"pi": [4]}}}, "net_arch must be a list of widths"),
    ("sac", CONTINUOUS_ID, {"policy_kwargs": {"net_arch": {"qf": [4]}}}, "net_arch dict must have the keys pi and qf"),
    ("dqn", DISCRETE_ID, {"optimize_memory_usage": True}, "optimize_memory_usage must be false"),
    ("sac", CONTINUOUS_ID, {"ent_coef": "auto_x"}, "ent_coef must be"),
]


@pytest.mark.parametrize(("algo", "env_id", "hyperparams", "problem"), REFUSED)
def test_nonsense_hyperparameters_are_refused_by_the_config_in_one_line(
    algo: str, env_id: str, hyperparams: Any, problem: str
) -> None:
    with pytest.raises(ValueError) as error:
        SB3_CONFIGS[algo](env_id, hyperparams=hyperparams)
    assert problem in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("algo", "env_id", "hyperparams"),
    [
        ("sac", CONTINUOUS_ID, {"ent_coef": "auto_0.1", "target_entropy": -1.0, "train_freq": [1, "episode"]}),
        ("dqn", DISCRETE_ID, {"gradient_steps": -1, "exploration_fraction": 0.5, "learning_rate": "lin_1e-3"}),
        ("sb3-ars", CONTINUOUS_ID, {"n_delta": 4, "n_top": 4, "delta_std": "lin_0.05", "policy": "MlpPolicy"}),
        ("td3", CONTINUOUS_ID, {"noise_type": "ornstein-uhlenbeck", "noise_std": 0.2, "policy_delay": 3}),
        ("ppo", CONTINUOUS_ID, {"policy_kwargs": {"net_arch": {"pi": [8], "vf": [16]}, "log_std_init": -1.0}}),
        ("a2c", DISCRETE_ID, {"policy_kwargs": None, "use_rms_prop": False}),
    ],
)
def test_sensible_hyperparameters_pass_and_build(algo: str, env_id: str, hyperparams: dict[str, Any]) -> None:
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    from baselines.sb3 import SB3Policy, build_model, policy_from_checkpoint, policy_metadata

    resolved = SB3_CONFIGS[algo](env_id, hyperparams=hyperparams).sb3_hyperparams
    assert {key: resolved[key] for key in hyperparams} == hyperparams
    model = build_model(algo, resolved, make_vec_env(env_id, n_envs=1), 0, torch.device("cpu"))
    if "train_freq" in hyperparams:
        assert (model.train_freq.frequency, model.train_freq.unit.value) == tuple(hyperparams["train_freq"])
    # what a checkpoint of it holds rebuilds the same network
    policy = SB3Policy(model.policy, policy_metadata(algo, env_id, model, resolved))
    loaded = policy_from_checkpoint(policy.tensors(), policy.metadata())
    assert loaded.tensors().keys() == policy.tensors().keys()


@pytest.mark.parametrize(
    ("yaml_value", "problem"),
    [
        ("{[1]: 2}", "not valid YAML"),
        ("!!set {a, b}", "not valid YAML"),
        ("!!binary aGVsbG8=", "not valid YAML"),
        ("2020-01-01", "learning_rate must be a positive finite number"),  # a date is kept as text, then refused
    ],
)
def test_yaml_values_that_are_not_plain_data_are_refused_before_the_run(
    yaml_value: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    file = tmp_path / "ppo.yml"
    file.write_text(f"{DISCRETE_ID}:\n  policy: MlpPolicy\n  learning_rate: {yaml_value}\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "ppo", "--env", DISCRETE_ID, "--out", str(out), "--hyperparams-file", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and len(err.splitlines()) == 1 and not out.exists()


def test_every_sb3_argument_has_a_rule_or_a_reason() -> None:
    """A new SB3 version's argument is refused until it has a rule, never passed unchecked; this names it."""
    for algo in sb3_validation.ALGORITHM_CLASS_PATHS:
        names = set(inspect.signature(sb3_validation.algorithm_class(algo).__init__).parameters)
        names -= sb3_validation.RUN_KEYS | {"policy", "policy_kwargs"}
        missing = names - set(sb3_validation.RULES) - set(sb3_validation.NOT_AS_TEXT)
        assert not missing, f"{algo}: no rule for {missing}"


# Values at the edges of the rules; whatever the validation accepts of them, SB3 must build.
EDGE_VALUES = [0, 1, -1, 1e-8, True, None, "lin_0.001", "auto_0.1", [1, "episode"], "normal"]


@pytest.mark.parametrize("algo", list(sb3_validation.ALGORITHM_CLASS_PATHS))
def test_every_value_the_validation_accepts_builds_in_sb3(algo: str) -> None:
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    from baselines.sb3 import build_model
    from baselines.sb3_hyperparams import action_spaces

    env_id = CONTINUOUS_ID if "continuous" in action_spaces(algo) else DISCRETE_ID
    envs = make_vec_env(env_id, n_envs=2)
    keys = set(inspect.signature(sb3_validation.algorithm_class(algo).__init__).parameters) - sb3_validation.RUN_KEYS
    built = 0
    for key in sorted(keys - {"policy", "policy_kwargs"}):
        for value in EDGE_VALUES:
            try:
                resolved = SB3_CONFIGS[algo](env_id, hyperparams={key: value, "n_envs": 2}).sb3_hyperparams
            except ValueError:
                continue
            build_model(algo, resolved, envs, 0, torch.device("cpu"))  # raises RunError if SB3 refuses
            built += 1
    assert built >= 10


def test_constructor_defaults_read_from_the_source_are_the_signatures() -> None:
    """Read without importing SB3 (and torch), so a refused value costs no torch import; equal to inspect's view."""
    for algo in sb3_validation.ALGORITHM_CLASS_PATHS:
        parameters = inspect.signature(sb3_validation.algorithm_class(algo).__init__).parameters
        expected = {name: p.default for name, p in parameters.items() if name not in sb3_validation.RUN_KEYS}
        read = sb3_validation.constructor_defaults(algo)
        assert read.keys() == expected.keys(), algo
        literal = {name: default for name, default in read.items() if default is not sb3_validation.NOT_LITERAL}
        assert literal == {name: expected[name] for name in literal}, algo
        assert {"n_steps", "batch_size", "buffer_size", "n_delta"} & set(expected) <= set(literal)  # the estimates'


def test_sb3_defaults_are_read_through_the_bounded_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source file that is not a regular file (here a FIFO no one writes) is refused, not waited on: the defaults
    then come from the imported class."""
    import threading

    from baselines import sb3_validation

    package = tmp_path / "fake_sb3_package"
    package.mkdir()
    (package / "__init__.py").write_text("class Algo:\n    def __init__(self, policy, env, gamma=0.5):\n        pass\n")
    os.mkfifo(package / "algo.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sb3_validation.ALGORITHM_CLASS_PATHS, "fake", ("fake_sb3_package", "algo.py", "Algo"))
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(sb3_validation.constructor_defaults("fake")), daemon=True)
    thread.start()
    thread.join(timeout=30)
    if not outcome:
        with open(package / "algo.py", "w"):  # let the blocked reader go before failing
            pass
    assert outcome == [{"policy": sb3_validation.REQUIRED, "gamma": 0.5}]


def test_the_swingup_ids_get_their_own_entries_and_budgets() -> None:
    from baselines import sb3_hyperparams as table
    from baselines.compare.plan import default_envs, plan_runs
    from baselines.configs import TASK_SETTINGS

    swingup_sac = sb3_validation.resolve_hyperparams("sac", "ContinuousCartPoleSwingUp-v0")
    assert swingup_sac == table.SWINGUP_TABLE[("sac", "continuous")].values
    assert swingup_sac != sb3_validation.resolve_hyperparams("sac", "ContinuousCartPole-v0")
    dqn = sb3_validation.resolve_hyperparams("dqn", "DiscreteCartPoleSwingUpSparse-v0")
    assert dqn == table.SWINGUP_TABLE[("dqn", "discrete")].values
    # A2C has no swing-up entry of its own: the balance one
    assert table.entry("a2c", "discrete", "swingup") is table.TABLE[("a2c", "discrete")]
    runs, _ = plan_runs(["ars", "sac"], ["ContinuousCartPole-v0", "ContinuousCartPoleSwingUp-v0"], 1, quick=False)
    budgets = {(run.algo, run.env_id): run.total_steps for run in runs}
    assert budgets[("ars", "ContinuousCartPoleSwingUp-v0")] == TASK_SETTINGS["swingup"]["ars"]["total_steps"]
    assert budgets[("ars", "ContinuousCartPole-v0")] == 300_000
    assert budgets[("sac", "ContinuousCartPoleSwingUp-v0")] == table.SWINGUP_TABLE[("sac", "continuous")].budget
    assert not any("SwingUp" in env_id for env_id in default_envs(quick=True))
    assert {"ContinuousCartPoleSwingUp-v0", "DiscreteCartPoleSwingUp-v0"} <= set(default_envs(quick=False))
