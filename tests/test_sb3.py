"""Stable-Baselines3 runs: the env-checker gate, every algorithm on the env types it supports, refusals, checkpoints."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import continuous_cartpole
from baselines import load_policy, sb3, sb3_hyperparams, sb3_validation
from baselines.algorithms import ALGORITHMS
from baselines.checkpoint import CHECKPOINT_FILE, CheckpointError, load_checkpoint, save_checkpoint
from baselines.cli import main
from baselines.devices import warm_up_torch
from baselines.env_checks import GYMNASIUM_CHECK, SB3_CHECK, EnvCheckError, check_env_for_training
from baselines.evaluation import evaluate
from baselines.runs import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, train_run
from baselines.training import curve_seed
from continuous_cartpole.env import CartPoleEnv

CONTINUOUS_ID, DISCRETE_ID = "ContinuousCartPole-v0", "DiscreteCartPole-v0"
SB3_ALGOS = [name for name, algorithm in ALGORITHMS.items() if algorithm.module == "baselines.sb3"]
PAIRS = [
    (algo, env_id)
    for algo in SB3_ALGOS
    for env_id, continuous in continuous_cartpole.BALANCE_IDS.items()
    if ("continuous" if continuous else "discrete") in ALGORITHMS[algo].action_spaces
]
TINY = {"total_steps": 300, "eval_every": 150, "eval_episodes": 20, "device": "cpu"}


class BrokenCartPole(gym.Env):
    """Our discrete cart-pole with one deliberate API flaw, for the checker gate."""

    metadata = {"render_modes": [], "render_fps": 50}

    def __init__(self, flaw: str) -> None:
        self.inner = CartPoleEnv(continuous=False)
        self.flaw = flaw
        self.action_space = self.inner.action_space
        self.observation_space = self.inner.observation_space
        if flaw == "infinite_bounds":  # legal, but Gymnasium's checker warns about it
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs, info = self.inner.reset(seed=seed, options=options)
        return self._observation(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.inner.step(action)
        if self.flaw == "float32_reward":
            reward = np.float32(reward)
        return self._observation(obs), reward, terminated, truncated, info

    def _observation(self, obs: np.ndarray) -> np.ndarray:
        return obs.astype(np.float64) if self.flaw == "float64_obs" else obs


BROKEN_ENVS = {
    "TestFloat64ObsCartPole-v0": "float64_obs",
    "TestFloat32RewardCartPole-v0": "float32_reward",
    "TestInfiniteBoundsCartPole-v0": "infinite_bounds",
}
for _env_id, _flaw in BROKEN_ENVS.items():
    if _env_id not in gym.registry:
        gym.register(_env_id, entry_point=BrokenCartPole, kwargs={"flaw": _flaw}, max_episode_steps=500)
for _continuous, _env_id in ((False, "TestEasyDiscreteCartPole-v0"), (True, "TestEasyContinuousCartPole-v0")):
    if _env_id not in gym.registry:  # solved by any policy: 5 steps of balance is enough
        gym.register(
            _env_id,
            entry_point="continuous_cartpole.env:CartPoleEnv",
            vector_entry_point="continuous_cartpole.vector:CartPoleVectorEnv",
            max_episode_steps=500,
            reward_threshold=5.0,
            kwargs={"continuous": _continuous},
        )


# ---- the checker gate ----


def test_gate_passes_our_envs() -> None:
    for env_id in continuous_cartpole.ENV_IDS:
        check_env_for_training(env_id)


def test_gate_names_gymnasiums_checker_for_a_float64_observation() -> None:
    with pytest.raises(EnvCheckError, match=f"{GYMNASIUM_CHECK} failed on TestFloat64ObsCartPole-v0: Assertion.*space"):
        check_env_for_training("TestFloat64ObsCartPole-v0")


def test_gate_stops_on_a_warning_alone() -> None:
    with pytest.raises(EnvCheckError, match=f"{GYMNASIUM_CHECK} warned on TestInfiniteBoundsCartPole-v0: .*infinity"):
        check_env_for_training("TestInfiniteBoundsCartPole-v0")


def test_gate_names_sb3s_checker_for_a_numpy_reward() -> None:
    # Gymnasium accepts an np.float32 reward; SB3's checker asserts a Python float
    with pytest.raises(EnvCheckError, match=f"{SB3_CHECK} failed on TestFloat32RewardCartPole-v0: AssertionError"):
        check_env_for_training("TestFloat32RewardCartPole-v0")


def test_gate_stops_training_before_it_starts(tmp_path: Path) -> None:
    with pytest.raises(EnvCheckError, match=GYMNASIUM_CHECK):
        sb3.train(sb3.PPOConfig("TestFloat64ObsCartPole-v0", **TINY))


def test_cli_refuses_a_broken_env_before_creating_the_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    code = main(["train", "ppo", "--env", "TestFloat32RewardCartPole-v0", "--out", str(out), "--no-progress"])
    assert code == 2
    assert SB3_CHECK in capsys.readouterr().err
    assert not out.exists()


# ---- every algorithm on every env type it supports ----


@pytest.mark.parametrize(("algo", "env_id"), PAIRS)
def test_train_writes_the_run_and_the_checkpoint_reloads_exactly(algo: str, env_id: str, tmp_path: Path) -> None:
    config = sb3.CONFIGS[algo](env_id, seed=3, **TINY)
    summary = train_run(algo, config, tmp_path / "run")
    for name in (CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, CHECKPOINT_FILE):
        assert (tmp_path / "run" / name).is_file()
    n_envs = config.sb3_hyperparams.get("n_envs", 1)
    assert TINY["total_steps"] <= summary["env_steps"] < TINY["total_steps"] + n_envs
    stored = json.loads((tmp_path / "run" / CONFIG_FILE).read_text())
    assert stored["algo"] == algo and stored["config"]["sb3_hyperparams"] == config.sb3_hyperparams

    policy = load_policy(tmp_path / "run", "last")
    single, _ = policy.predict(np.zeros(4, dtype=np.float32))
    batch, _ = policy.predict(np.zeros((7, 4), dtype=np.float32))
    if continuous_cartpole.ENV_IDS[env_id]:
        assert (single.shape, single.dtype, batch.shape, batch.dtype) == ((1,), np.float32, (7, 1), np.float32)
        assert np.all(np.abs(batch) <= 1.0)
    else:
        assert (single.shape, single.dtype, batch.shape, batch.dtype) == ((), np.int64, (7,), np.int64)
    # The checkpoint is the policy of the last evaluation: replaying that evaluation gives the same return.
    returns = evaluate(policy, env_id, episodes=20, seed=curve_seed(3, summary["evaluations"] - 1, 20))
    assert returns.mean() == pytest.approx(summary["eval_return_mean"])


@pytest.mark.parametrize("algo", SB3_ALGOS)
def test_training_stops_at_the_first_evaluation_that_solves(algo: str) -> None:
    continuous = ALGORITHMS[algo].action_spaces == frozenset({"continuous"})
    env_id = "TestEasyContinuousCartPole-v0" if continuous else "TestEasyDiscreteCartPole-v0"
    result = sb3.train(sb3.CONFIGS[algo](env_id, total_steps=5_000, eval_every=100, device="cpu"))
    n_envs = sb3.CONFIGS[algo](env_id).sb3_hyperparams.get("n_envs", 1)
    assert result.solved_env_steps is not None and 100 <= result.solved_env_steps < 100 + n_envs
    assert result.env_steps == result.solved_env_steps  # sb3-contrib's ARS ignores False; the raise stops it


def test_cli_train_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    args = ["--total-steps", "200", "--eval-every", "100", "--device", "cpu", "--no-progress"]
    assert main(["train", "sb3-ars", "--env", DISCRETE_ID, "--out", str(out), *args]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--episodes", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["algo"] == "sb3-ars" and result["episodes"] == 20 and result["return_mean"] >= 1


# ---- refusals and configuration ----


@pytest.mark.parametrize(("algo", "env_id"), [("dqn", CONTINUOUS_ID), ("sac", DISCRETE_ID), ("td3", DISCRETE_ID)])
def test_wrong_action_space_is_refused(algo: str, env_id: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    kind = "discrete" if env_id == DISCRETE_ID else "continuous"
    with pytest.raises(ValueError, match=f"{algo} only supports .* action spaces; {env_id} is {kind}"):
        sb3.CONFIGS[algo](env_id)
    out = tmp_path / "run"
    assert main(["train", algo, "--env", env_id, "--out", str(out), "--no-progress"]) == 2
    assert f"{algo} only supports" in capsys.readouterr().err
    assert not out.exists()


def test_registry_action_spaces_match_the_hyperparameter_table() -> None:
    for algo in SB3_ALGOS:
        assert ALGORITHMS[algo].action_spaces == sb3_hyperparams.action_spaces(algo)


def test_hyperparams_override_the_table_and_unknown_keys_are_refused() -> None:
    config = sb3.PPOConfig(DISCRETE_ID, hyperparams='{"n_steps": 16, "policy_kwargs": {"net_arch": [8]}}')
    table = sb3_hyperparams.TABLE[("ppo", "discrete")].values
    assert config.sb3_hyperparams["n_steps"] == 16 and config.sb3_hyperparams["batch_size"] == table["batch_size"]
    assert config.sb3_hyperparams["policy_kwargs"] == {"net_arch": [8]}
    with pytest.raises(ValueError, match="n_stepz not accepted by PPO"):
        sb3.PPOConfig(DISCRETE_ID, hyperparams='{"n_stepz": 16}')
    with pytest.raises(ValueError, match="not valid JSON"):
        sb3.PPOConfig(DISCRETE_ID, hyperparams="{n_steps: 16}")
    # refused by the config, so before the run directory exists, not when SB3 builds the model
    for text, message in [
        ('{"learning_rate": NaN}', "nan is not a finite number"),
        ('{"learning_rate": 1e999}', "inf is not a finite number"),
        ('{"learning_rate": "lin_fast"}', 'learning_rate must be .*"lin_X"'),
        ('{"policy_kwargs": {"activation_fn": "sigmoid"}}', "activation_fn must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            sb3.PPOConfig(DISCRETE_ID, hyperparams=text)


def test_checkpoint_with_mismatched_network_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_run("ppo", sb3.PPOConfig(DISCRETE_ID, **TINY), run)
    tensors, metadata = load_checkpoint(run / CHECKPOINT_FILE)
    metadata["policy_kwargs"] = json.dumps({"net_arch": [8]})  # the stored tensors are 64-wide
    save_checkpoint(run / CHECKPOINT_FILE, tensors, metadata)
    with pytest.raises(CheckpointError, match="does not describe a valid ppo policy"):
        load_policy(run, "last")


def test_hyperparameters_sb3_rejects_give_a_clear_error_and_a_failed_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    argv = ["train", "ppo", "--env", "DiscreteCartPole-v0", "--out", str(out), "--no-progress"]
    assert main([*argv, "--hyperparams", '{"n_steps": -5}']) == 2
    assert "n_steps must be an integer in [1, " in capsys.readouterr().err and not out.exists()
    # what SB3 still refuses after the validation (none known) fails the run with SB3's message
    monkeypatch.setattr(sb3_validation, "check_hyperparams", lambda *args: None)
    assert main([*argv, "--hyperparams", '{"n_steps": -5}']) == 2
    assert "Stable-Baselines3 refused the hyperparameters" in capsys.readouterr().err
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["status"] == "failed" and "n_steps" in summary["error"]


def test_gate_trains_on_gymnasiums_own_envs_and_prints_their_warnings(capsys: pytest.CaptureFixture) -> None:
    check_env_for_training("CartPole-v1")  # infinite observation bounds: the checkers warn, SB3 trains fine
    err = capsys.readouterr().err
    assert f"warning: {GYMNASIUM_CHECK} on Gymnasium's CartPole-v1, trained anyway" in err and "infinity" in err


@pytest.mark.parametrize("env_id", ["CartPole-v1", DISCRETE_ID])
def test_ppo_trains_on_gymnasiums_and_our_env_and_writes_nothing_outside_out(
    env_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    warm_up_torch()  # importing torch._dynamo creates torch's per-user compile cache in the temp dir, once
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where SB3's default logger makes its SB3-<time> folder
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    out = tmp_path / "run"
    argv = ["train", "ppo", "--env", env_id, "--out", str(out), "--no-progress", "--device", "cpu"]
    argv += ["--total-steps", "256", "--eval-every", "256", "--eval-episodes", "20"]
    assert main(argv) == 0, capsys.readouterr().err
    assert list(temp.iterdir()) == []
    assert json.loads((out / SUMMARY_FILE).read_text())["status"] == "finished"


@pytest.mark.parametrize(
    ("hyperparams", "problem"),
    [
        ('{"policy_kwargs": {"net_arch": [-5]}}', "net_arch must be a list of integers in [1, "),
        ('{"n_envs": 0}', "n_envs must be an integer in [1, "),
        ('{"noise_type": "pink"}', 'noise_type must be null or "normal" or "ornstein-uhlenbeck"'),
        ('{"noise_type": "normal"}', "noise_type needs a continuous action space"),
    ],
)
def test_hyperparameters_that_would_fail_inside_sb3_are_one_line_errors(
    hyperparams: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    argv = ["train", "ppo", "--env", "DiscreteCartPole-v0", "--out", str(out), "--no-progress"]
    assert main([*argv, "--hyperparams", hyperparams]) == 2
    err = capsys.readouterr().err.strip()
    assert problem in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_a_gsde_policy_can_be_kept_as_the_best_one() -> None:
    # The monitor deep-copies the best policy; a gSDE policy's sampled exploration matrices are no graph leaves and
    # made that raise at the swing-up SAC run's first confirmed solve.
    import copy

    from stable_baselines3 import SAC

    env_id = "ContinuousCartPoleSwingUp-v0"
    hyperparams = {"policy": "MlpPolicy", "use_sde": True, "policy_kwargs": {"net_arch": [8, 8]}}
    model = SAC("MlpPolicy", gym.make(env_id), use_sde=True, learning_starts=0, policy_kwargs={"net_arch": [8, 8]})
    model.learn(16)
    policy = sb3.SB3Policy(model.policy, sb3.policy_metadata("sac", env_id, model, hyperparams))
    kept = copy.deepcopy(policy)
    obs = np.random.default_rng(0).normal(0.0, 0.5, (16, 5)).astype(np.float32)
    np.testing.assert_array_equal(kept.predict(obs)[0], policy.predict(obs)[0])
    model.learn(16)  # training goes on: the copy does not follow
    assert kept.policy is not policy.policy
