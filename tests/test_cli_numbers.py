"""Numbers on the command line are checked before anything is written (or allocated): one line each, no traceback.

Each case was, before, a traceback after a run directory existed, gigabytes allocated before a failure, or a box
of tyro's without a suggestion."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from baselines.budget import MEMORY_BUDGET_BYTES
from baselines.cli import main

CONTINUOUS_ID = "ContinuousCartPole-v0"
NO_RUN = "no-such-run"  # evaluate checks its numbers before it opens the run

CASES = [
    (["train", "ars", "--env", CONTINUOUS_ID, "--seed", str(2**24)], "ARSConfig.seed must be at most 16777214"),
    (["train", "ars", "--env", CONTINUOUS_ID, "--eval-episodes", str(2**40)], "eval_episodes must be at most 1677721"),
    (["train", "ars", "--env", CONTINUOUS_ID, "--n-directions", str(10**9)], "n_directions must be at most 4194304"),
    (["train", "ars", "--env", CONTINUOUS_ID, "--n-directions", str(4 * 10**6)], "over the 2.0 GiB memory budget"),
    (["train", "reinforce", "--env", CONTINUOUS_ID, "--hidden-size", str(10**9)], "over the 2.0 GiB memory budget"),
    (
        ["train", "reinforce", "--env", CONTINUOUS_ID, "--episodes-per-update", str(10**9)],
        "episodes_per_update must be at most",
    ),
    (["train", "reinforce", "--env", CONTINUOUS_ID, "--init-log-std", "1e308"], "init_log_std must be within +-20"),
    (["compare", "--seeds", str(10**7)], "--seeds must be in [1, 1000]"),
    (["compare", "--eval-episodes", str(2**40)], "--eval-episodes must be in [20, "),
    (["evaluate", NO_RUN, "--episodes", str(10**8)], "--episodes must be in [1, "),
    (["evaluate", NO_RUN, "--seed", str(2**64 - 1), "--episodes", "2"], "past 2**64 - 1"),
    (["render", "--env", "CartPole-v1", "--seed", str(2**64 - 1), "--grid", "2x2"], "past 2**64 - 1"),
    (["render", "--env", "FrozenLake-v1"], "render takes envs with flat Box observations"),
    (["render", "--env", "CliffWalking-v1"], "render takes envs with flat Box observations"),
    (["render", "--env", "CarRacing-v3"], "CarRacing-v3"),  # Box2D missing, or image observations
    (["render", "--env", "CartPole-v1", "--gym-package", ""], "--gym-package '' is not a module name"),
    (["render", "--env", "CartPole-v1", "--gym-package", ".rel"], "--gym-package '.rel' is not a module name"),
    (["train", "PPO", "--env", CONTINUOUS_ID], "unknown algorithm 'PPO' (did you mean 'ppo'?); known: ars,"),
    (["train", "sb3ars", "--env", CONTINUOUS_ID], "unknown algorithm 'sb3ars' (did you mean 'sb3-ars'?)"),
    (["trian", "ppo"], "unknown command 'trian' (did you mean 'train'?); commands: train,"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(argv)[:60] for argv, _ in CASES])
def test_numbers_and_names_are_one_line_refusals_before_anything_is_written(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / ("video.gif" if argv[0] == "render" else "out")
    assert main([*argv, *([] if argv[0] in ("evaluate", "trian") else ["--out", str(out)])]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize("command", [["evaluate", NO_RUN], ["render", "--env", "CartPole-v1", "--human"]])
def test_seeds_of_2_to_the_64_are_argument_errors(command: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main([*command, "--seed", str(2**64)]) == 2
    err = " ".join(capsys.readouterr().err.split())  # tyro's box wraps lines
    assert "a seed must be below 2**64" in err and "Traceback" not in err


def test_the_readme_states_the_memory_budget() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"{MEMORY_BUDGET_BYTES // 2**30} GiB memory budget" in readme


def _imports(module: str) -> set[str]:
    """The ``baselines`` modules ``module`` imports anywhere in its file, in functions too."""
    path = Path(sys.modules["baselines"].__file__).parent.joinpath(*module.split(".")[1:])
    source = (path / "__init__.py") if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("baselines"):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name for name in names if _is_module(name)} or {node.module}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("baselines")}
    return found


def _is_module(name: str) -> bool:
    root = Path(sys.modules["baselines"].__file__).parent.parent
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_configs_depend_on_nothing_that_depends_on_them() -> None:
    """The configs are the leaves the algorithms and the CLI build on: no import of theirs, lazy ones included,
    leads back to them (it went configs -> sb3 -> runs -> training -> configs)."""
    seen, pending = set(), ["baselines.configs"]
    while pending:
        for name in _imports(pending.pop()) - seen:
            assert name != "baselines.configs", "baselines.configs imports, through others, itself"
            seen.add(name)
            pending.append(name)
