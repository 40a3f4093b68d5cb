"""``cartpole-baselines robustness``: grids of perturbed physics, checked against direct evaluations; compare's
robustness summary and its per-run cache."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import baselines
from baselines import training
from baselines.cli import main
from baselines.cli.robustness import run_labels
from baselines.compare.plan import RunSpec
from baselines.compare.robustness import PERTURBATIONS, RUN_CACHE_FILE, format_robustness_markdown, run_robustness
from baselines.evaluation import evaluate
from baselines.robustness import STAT_COLUMNS, Axis, GridError, parse_grid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ENV_ID = "ContinuousCartPole-v0"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two short ARS runs (seeds 0 and 1): weak policies whose returns change with the physics."""
    root = tmp_path_factory.mktemp("runs")
    paths = []
    for seed in (0, 1):
        out = root / f"ars{seed}"
        argv = ["train", "ars", "--env", ENV_ID, "--device", "cpu", "--out", str(out), "--no-progress"]
        argv += ["--seed", str(seed), "--total-steps", "400", "--eval-every", "400", "--n-directions", "4"]
        assert main([*argv, "--top-b", "2"]) == 0
        paths.append(out)
    return paths


def test_the_csv_holds_what_a_direct_evaluation_gives_at_every_grid_point(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["robustness", *map(str, runs), "--vary", "length=0.1:1.5:3", "--vary", "force_mag=2:10:2"]
    assert main([*argv, "--episodes", "20", "--out", str(out)]) == 0
    for run in runs:
        rows = read_csv(out / f"{run.name}.csv")
        assert tuple(rows[0]) == ("length", "force_mag", *STAT_COLUMNS)
        assert [(float(row["length"]), float(row["force_mag"])) for row in rows] == [
            (length, force) for length in (0.1, 0.8, 1.5) for force in (2.0, 10.0)
        ]
        policy = baselines.load_policy(run)
        seed = training.test_seed(int(json.loads((run / "config.json").read_text())["config"]["seed"]))
        for row in rows:
            physics = {"length": float(row["length"]), "force_mag": float(row["force_mag"])}
            returns = evaluate(policy, ENV_ID, episodes=20, seed=seed, env_kwargs=physics)
            assert (int(row["episodes"]), int(row["seed"])) == (20, seed)
            assert float(row["return_mean"]) == float(np.mean(returns))
            assert float(row["return_std"]) == float(np.std(returns))
            assert (float(row["return_min"]), float(row["return_max"])) == (returns.min(), returns.max())
        assert len({row["return_mean"] for row in rows}) > 1  # the physics changed the returns: a real check
        assert (out / f"{run.name}.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (out / "robustness.png").read_bytes().startswith(PNG_SIGNATURE)


def test_one_varied_parameter_gives_a_curve_per_run_and_the_seed_flag_is_used(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["robustness", str(runs[0]), "--vary", "masspole=0.05:0.5:2", "--episodes", "5", "--seed", "7"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = read_csv(out / f"{runs[0].name}.csv")
    assert [row["masspole"] for row in rows] == ["0.05", "0.5"] and {row["seed"] for row in rows} == {"7"}
    returns = evaluate(baselines.load_policy(runs[0]), ENV_ID, episodes=5, seed=7, env_kwargs={"masspole": 0.5})
    assert float(rows[1]["return_mean"]) == float(np.mean(returns))


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        (["length=0.001:2:8"], "CartPole parameter length must lie in [0.01, 100], got 0.001"),
        (["masspole=0.5:2000:4"], "CartPole parameter masspole must lie in [0.001, 1000], got 2000.0"),
        (["theta_threshold_radians=0.1:0.2:3"], "not a physical parameter; vary one of gravity, masscart"),
        (["length=0.1:2"], "write NAME=LOW:HIGH:N, e.g. length=0.25:2.0:8"),
        (["length=0.1:two:3"], "LOW and HIGH must be numbers and N an integer"),
        (["length=2:1:3"], "LOW must be below HIGH"),
        (["length=0.1:1:1"], "N must be an integer in [2, 64], got 1"),
        (["length=0.1:1:3", "length=1:2:3"], "names length twice"),
        (["length=0.1:1:3", "masspole=0.1:1:3", "tau=0.01:0.02:2"], "give one or two --vary"),
    ],
)
def test_a_bad_grid_is_refused_in_one_line_before_anything_is_written(
    vary: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    flags = [flag for text in vary for flag in ("--vary", text)]
    assert main(["robustness", str(tmp_path / "no-run-needed"), *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_grid_values_are_evenly_spaced_and_end_exactly_at_the_bounds() -> None:
    axis = Axis.parse("masspole=0.05:1.0:8")
    assert axis.values[0] == 0.05 and axis.values[-1] == 1.0 and len(axis.values) == 8
    assert np.allclose(np.diff(axis.values), 0.95 / 7)
    with pytest.raises(GridError, match="give one or two"):
        parse_grid([])


def test_run_labels_are_the_shortest_distinct_path_tails() -> None:
    paths = [Path("/a/ars/Env/seed0"), Path("/a/ppo/Env/seed0"), Path("/b/x/seed0")]
    assert run_labels(paths) == ["ars_Env_seed0", "ppo_Env_seed0", "b_x_seed0"]
    assert run_labels([Path("/a/robustness")]) == ["robustness_1"]  # not the name of the figure of all runs
    assert run_labels([Path("/x/my run!")]) == ["my_run"]


def test_compare_robustness_is_cached_per_checkpoint_and_matches_direct_evaluations(
    runs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    rows = run_robustness(run, ENV_ID, 0)
    assert [(row["parameter"], row["factor"]) for row in rows] == [(p.parameter, p.factor) for p in PERTURBATIONS]
    policy = baselines.load_policy(run)
    for row, expected_value in zip(rows, (0.25, 1.0, 2.0, 0.05, 0.2, 0.4, 5.0), strict=True):
        assert row["value"] == pytest.approx(expected_value, rel=1e-12)
        returns = evaluate(policy, ENV_ID, 100, training.test_seed(0), env_kwargs={row["parameter"]: row["value"]})
        assert row["return_mean"] == float(np.mean(returns))

    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cached numbers should have been used")

    monkeypatch.setattr(baselines, "load_policy", must_not_run)
    assert run_robustness(run, ENV_ID, 0) == rows
    # another checkpoint (here: another run's) invalidates the cache
    shutil.copy(runs[1] / "best_policy.safetensors", run / "best_policy.safetensors")
    with pytest.raises(AssertionError, match="cached numbers"):
        run_robustness(run, ENV_ID, 0)
    monkeypatch.undo()
    swapped = run_robustness(run, ENV_ID, 0)
    (run / RUN_CACHE_FILE).write_text("{not json")  # a damaged cache is recomputed, not trusted
    assert run_robustness(run, ENV_ID, 0) == swapped
    assert json.loads((run / RUN_CACHE_FILE).read_text())["points"] == swapped


def test_the_markdown_section_reports_the_iqm_over_seeds_with_its_interval() -> None:
    spec = RunSpec("ars", ENV_ID, 0, None)
    rows, results = [], []
    for seed, level in enumerate((100.0, 200.0, 300.0, 400.0)):
        results.append({"algo": spec.algo, "env_id": ENV_ID, "seed": seed, "test_return_mean": 500.0})
        for index, p in enumerate(PERTURBATIONS):
            value = level + index
            rows.append({"algo": "ars", "env_id": ENV_ID, "seed": seed, "parameter": p.parameter, "factor": p.factor,
                         "value": p.factor, "return_mean": value})  # fmt: skip
    section = format_robustness_markdown(rows, results, ["ppo on X, seed 0: no robustness evaluation: boom"])
    line = next(line for line in section.splitlines() if line.startswith("| ars"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    # robust returns per seed: level + 3; IQM of 103, 203, 303, 403 drops one at each end: 253
    assert cells[:4] == ["ars", ENV_ID, "4", "500.0"]
    assert cells[4].startswith("253.0 [")
    assert cells[5:] == ["250.0", "251.0", "252.0", "253.0", "254.0", "255.0", "256.0"]
    assert "- ppo on X, seed 0: no robustness evaluation: boom" in section
