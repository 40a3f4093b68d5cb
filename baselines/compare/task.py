"""One run as a unit of work, the same for every executor: what trains it (in a local worker process or on a Ray
node), where its outcome is recorded when training could not, and what it weighs on the progress bar."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baselines.atomic import atomic_write_text
from baselines.compare.plan import QUICK_DEFAULT_BUDGET, WORKER_ERROR_FILE, CompareSettings, RunSpec
from baselines.runs import FAILED, FINISHED, SUMMARY_FILE

POLL_SECONDS = 1.0  # how often an executor's loop wakes to update the progress bar


def init_training_process() -> None:
    """What a process that trains runs first (here and on Ray nodes): one torch thread, torch's lazy imports paid."""
    import torch

    from baselines.devices import warm_up_torch

    torch.set_num_threads(1)  # resolve_device does this again for "cpu"; here it also covers "auto" on CPU
    warm_up_torch()


def train_one(
    run: RunSpec, run_dir: str, settings: CompareSettings, device: str, tensorboard_log: str | None = None
) -> dict[str, Any]:
    """Train ``run`` into ``run_dir``; never raises for a failed run, it records why."""
    from baselines.algorithms import get_algorithm
    from baselines.configs import task_settings
    from baselines.env_checks import env_task
    from baselines.runs import train_run
    from continuous_cartpole import registered_id

    path = Path(run_dir)
    try:
        config_type = get_algorithm(run.algo).config_type()
        given = run.given_env_id or run.env_id
        env_id = registered_id(given)  # imports the module of "module:EnvId" in this fresh worker
        options: dict[str, Any] = task_settings(run.algo, env_task(env_id))  # e.g. ARS's rff policy on the swing-up
        if run.total_steps is not None:
            options["total_steps"] = run.total_steps
        config = config_type(
            env_id=env_id,
            seed=run.seed,
            device=device,
            eval_every=settings.eval_every,
            eval_episodes=settings.eval_episodes,
            stop_when_solved=True,
            progress=False,
            **options,
        )
        summary = train_run(
            run.algo,
            config,
            path,
            overwrite=True,
            env_id=given,
            device=_device_name(device),
            tensorboard_log=tensorboard_log,
        )
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if not (path / SUMMARY_FILE).exists():  # train_run records failures during training itself
            write_worker_error(path, reason)
        return {"status": FAILED, "text": f"failed ({reason[:80]})"}
    solved = summary["solved_env_steps"]
    last = summary["eval_return_mean"]
    text = (
        f"solved at {solved} steps" if solved is not None else f"not solved (last evaluation: {last and round(last)})"
    )
    return {"status": FINISHED, "text": text}


def _device_name(device: str) -> str:
    from baselines.devices import resolve_device

    return str(resolve_device(device))


def write_worker_error(run_dir: Path, reason: str) -> None:
    """Why a run has no summary: it failed before training, or whatever trained it died."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / WORKER_ERROR_FILE, json.dumps({"error": reason}) + "\n")


def clear_stale_outcome(run_dir: Path) -> None:
    """A run about to be redone must not keep the failed summary or worker error of its last attempt."""
    (run_dir / WORKER_ERROR_FILE).unlink(missing_ok=True)
    (run_dir / SUMMARY_FILE).unlink(missing_ok=True)


def budget_steps(run: RunSpec) -> int:
    """A run's weight on the progress bar: its env-step budget (a run that ends early counts as its budget)."""
    return run.total_steps if run.total_steps is not None else QUICK_DEFAULT_BUDGET


def steps_bar(runs: Sequence[RunSpec], done_steps: int, progress: bool) -> Any:
    """The bar counts env steps summed over the runs: a run that ends (solved early, or failed) counts as its budget."""
    from tqdm.auto import tqdm

    return tqdm(
        total=sum(budget_steps(run) for run in runs),
        initial=done_steps,
        desc="compare",
        unit=" steps",
        unit_scale=True,
        disable=not progress,
        smoothing=0.05,
    )
