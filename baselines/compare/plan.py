"""Planning a comparison: its settings, the runs (algorithm x env x seed) and their budgets, and the plan recorded in
``DIR/compare.json`` that resuming extends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from baselines.atomic import atomic_write_text
from baselines.bounded_read import COMPARE_JSON_BYTES, read_json

COMPARE_FILE = "compare.json"
LOCK_FILE = "compare.lock"
RUNS_DIR = "runs"
WORKER_ERROR_FILE = "worker_error.json"  # why a run has no summary: it failed before training, or its worker died
COMPARE_FORMAT = "continuous-cartpole-compare/1"
FULL_SEEDS = 10  # Agarwal et al. 2021: intervals over 3-5 seeds are too wide to rank anything
QUICK_SEEDS = 2
# --quick leaves out SAC and TD3 by default: one gradient step per env step makes them ~250 steps/s on one CPU
# thread, and they needed 18k-50k steps (110-190 s) to solve, TD3 not on every seed. The budgets below are at least
# the most steps any of 5 seeds needed in a full comparison (docs/compare_results.md: ARS 14k, REINFORCE 66k, PPO
# 26k, A2C 66k, DQN 38k, sb3-ars 58k), so each remaining pair solves on most seeds. Named with --algos, SAC and TD3
# get 30k steps. Full runs use each algorithm's own default budget (SB3: its table entry's, per action space).
QUICK_EXCLUDED = ("sac", "td3")
QUICK_BUDGETS = {
    "ars": 50_000,
    "reinforce": 100_000,
    "ppo": 50_000,
    "a2c": 100_000,
    "dqn": 50_000,
    "sac": 30_000,
    "td3": 30_000,
    "sb3-ars": 80_000,
}
QUICK_DEFAULT_BUDGET = 20_000  # an algorithm registered later and missing above


# The envs a comparison runs unless --envs names others: both balance ids and the dense swing-up ids. --quick
# leaves the swing-up out: one ARS run alone needs about ten million swing-up steps (about 15 minutes on one busy
# CPU thread), far past the 5-minute quick matrix. The sparse swing-up ids are left to --envs.
FULL_ENVS = (
    "ContinuousCartPole-v0",
    "DiscreteCartPole-v0",
    "ContinuousCartPoleSwingUp-v0",
    "DiscreteCartPoleSwingUp-v0",
)
QUICK_ENVS = FULL_ENVS[:2]


class CompareError(ValueError):
    """Bad ``compare`` arguments, or a ``DIR`` that holds a comparison with other settings."""


@dataclass(frozen=True)
class CompareSettings:
    """What must be equal for runs to be compared: resuming with other settings is refused."""

    quick: bool
    eval_every: int
    eval_episodes: int
    device: str = "cpu"  # the --device flag as given: CUDA and CPU runs differ in their numbers


@dataclass(frozen=True)
class RunSpec:
    algo: str
    env_id: str  # the registry id: one run per env however the user spelt it
    seed: int
    total_steps: int | None  # None (older plans): the algorithm's default budget
    given_env_id: str | None = None  # as the user gave it ("module:EnvId"): the worker imports that module

    def run_dir(self, root: Path) -> Path:
        env_name = self.env_id.rpartition(":")[2]  # "module:EnvId" -> "EnvId": no colon in paths (Windows)
        return root / RUNS_DIR / self.algo / env_name / f"seed{self.seed}"

    def label(self) -> str:
        return f"{self.algo} on {self.env_id}, seed {self.seed}"


def plan_runs(algos: Sequence[str], env_ids: Sequence[str], seeds: int, quick: bool) -> tuple[list[RunSpec], list[str]]:
    """The runs of the matrix, and a note for each algorithm x env pair skipped (unsupported action space)."""
    from baselines.algorithms import ALGORITHMS
    from baselines.env_checks import action_kind, env_task
    from continuous_cartpole import registered_id

    if seeds < 1:
        raise CompareError(f"--seeds must be at least 1, got {seeds}")
    unknown = [algo for algo in algos if algo not in ALGORITHMS]
    if unknown:
        raise CompareError(f"unknown algorithm(s) {', '.join(unknown)}; known: {', '.join(ALGORITHMS)}")
    given: dict[str, str] = {}  # registry id -> the first spelling given
    kinds, tasks = {}, {}
    for env_id in env_ids:
        try:
            canonical = registered_id(env_id)
            kinds[canonical] = action_kind(canonical)
            tasks[canonical] = env_task(canonical)
        except Exception as error:  # Gymnasium's errors for unknown ids are not ValueErrors
            raise CompareError(f"unknown or unusable env id {env_id!r}: {error}") from error
        given.setdefault(canonical, env_id)
    runs, skipped = [], []
    for algo in dict.fromkeys(algos):
        for env_id, spelling in given.items():
            if kinds[env_id] not in ALGORITHMS[algo].action_spaces:
                supported = " and ".join(sorted(ALGORITHMS[algo].action_spaces))
                skipped.append(f"{algo} on {env_id}: {algo} only supports {supported} action spaces")
                continue
            _check_trainable(algo, env_id)
            if quick:
                budget = QUICK_BUDGETS.get(algo, QUICK_DEFAULT_BUDGET)
            else:
                budget = default_budget(algo, kinds[env_id], tasks[env_id])
            runs.extend(RunSpec(algo, env_id, seed, budget, spelling) for seed in range(seeds))
    if not runs:
        raise CompareError("the matrix is empty: " + "; ".join(skipped))
    return runs, skipped


def default_envs(quick: bool) -> list[str]:
    """``QUICK_ENVS`` for ``--quick``, else ``FULL_ENVS``."""
    return list(QUICK_ENVS if quick else FULL_ENVS)


def _check_trainable(algo: str, env_id: str) -> None:
    """Refuse a pair that every one of its runs would fail on (as ``train`` does, in a second, not after minutes):
    the algorithms that train on the batched torch env run on continuous_cartpole's envs only."""
    from baselines.algorithms import ALGORITHMS
    from continuous_cartpole import ENV_IDS

    if not ALGORITHMS[algo].torch_env or env_id in ENV_IDS:  # ours need no check, and no torch import
        return
    from continuous_cartpole.torch_vector import make_torch_vector_env

    try:
        make_torch_vector_env(env_id, 1, device="cpu").close()
    except ValueError as error:
        raise CompareError(f"{algo} cannot train on {env_id}: {error}") from None


def default_algos(quick: bool) -> list[str]:
    """Every algorithm; ``--quick`` leaves out the slow off-policy ones (``QUICK_EXCLUDED``)."""
    from baselines.algorithms import ALGORITHMS

    return [algo for algo in ALGORITHMS if not (quick and algo in QUICK_EXCLUDED)]


def default_budget(algo: str, kind: str, task: str = "balance") -> int:
    """A full run's env-step budget: the SB3 table's entry for this action space and task, else our settings for
    the task (``configs.task_settings``), else the config's default."""
    from dataclasses import fields

    from baselines import sb3_hyperparams
    from baselines.algorithms import get_algorithm
    from baselines.configs import task_settings

    if algo in sb3_hyperparams.SB3_ALGORITHMS:  # the config's default is the largest over the action spaces
        return sb3_hyperparams.entry(algo, kind, task).budget
    if "total_steps" in task_settings(algo, task):
        return int(task_settings(algo, task)["total_steps"])
    defaults = {field.name: field.default for field in fields(get_algorithm(algo).config_type())}
    return int(defaults["total_steps"])


def record_plan(root: Path, settings: CompareSettings, runs: Sequence[RunSpec]) -> list[RunSpec]:
    """Merge ``runs`` into ``root/compare.json`` (refusing other settings); returns every run planned into ``root``."""
    path = root / COMPARE_FILE
    planned: list[RunSpec] = []
    if path.exists() or path.is_symlink():
        try:
            stored = read_json(path, COMPARE_JSON_BYTES, "comparison plan")
            stored_settings = CompareSettings(**stored["settings"])
            planned = [RunSpec(**run) for run in stored["runs"]]
        except (ValueError, KeyError, TypeError) as error:
            raise CompareError(f"{path} is unreadable ({error}); use another --out") from error
        if stored_settings != settings:
            raise CompareError(
                f"{root} holds a comparison with other settings ({path.name}: {_describe_settings(stored_settings)}; "
                f"now: {_describe_settings(settings)}); to resume it, run compare with its settings, or give this "
                "comparison its own --out"
            )
    elif root.exists() and not root.is_dir():
        raise CompareError(f"output path {root} exists and is not a directory")
    elif root.is_dir() and any(path.name != LOCK_FILE for path in root.iterdir()):
        raise CompareError(f"output directory {root} is not empty and holds no {COMPARE_FILE}; use another --out")
    known = {(run.algo, run.env_id, run.seed): index for index, run in enumerate(planned)}
    for run in runs:
        key = (run.algo, run.env_id, run.seed)
        if key in known:
            planned[known[key]] = run
        else:
            known[key] = len(planned)
            planned.append(run)
    root.mkdir(parents=True, exist_ok=True)
    data = {"format": COMPARE_FORMAT, "settings": asdict(settings), "runs": [asdict(run) for run in planned]}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return planned


def refuse_symlinked_run_dirs(root: Path, runs: Sequence[RunSpec]) -> None:
    """Writes under ``root`` never follow a symbolic link: refuse a run directory, or a folder between it and
    ``root``, that is one (it would send the run's files elsewhere)."""
    for run in runs:
        run_dir = run.run_dir(root)
        for path in (*reversed(run_dir.relative_to(root).parents[:-1]), run_dir.relative_to(root)):
            if (root / path).is_symlink():
                raise CompareError(
                    f"{root / path} is a symbolic link; compare writes only into real folders under {root}: "
                    "replace the link with a folder, or use another --out"
                )


def _describe_settings(settings: CompareSettings) -> str:
    """The settings as the flags that give them."""
    quick = "--quick" if settings.quick else "no --quick"
    return (
        f"{quick} --eval-every {settings.eval_every} --eval-episodes {settings.eval_episodes} "
        f"--device {settings.device}"
    )
