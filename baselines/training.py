"""What every training run shares: the evaluation cadence, the "solved" rule, progress, and the result.

An algorithm's ``train(config, monitor=None)`` calls ``monitor.update(env_steps, policy)`` after each update; the
monitor evaluates on a fixed cadence of env steps and tells the loop when to stop. Writing files is the job of the
``on_evaluation`` callback (the CLI passes one), so ``train`` stays usable from tests and notebooks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from baselines.evaluation import NonFiniteActions, Policy, evaluate
from continuous_cartpole.registration import registered_id

EVAL_SEED_OFFSET = 1_000_003  # evaluation envs are seeded apart from the training env
# The integer fields every algorithm config starts with, and their smallest allowed values.
COMMON_INTEGER_MINIMUMS = {"seed": 0, "total_steps": 1, "eval_every": 1, "eval_episodes": 1}


def check_integer_fields(config: Any, minimums: dict[str, int]) -> None:
    """``ValueError`` naming the first field of ``config`` that is not an integer >= its minimum (bools refused)."""
    for name, minimum in minimums.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{type(config).__name__}.{name} must be an integer >= {minimum}, got {value!r}")


class TrainingDiverged(FloatingPointError):
    """The policy's parameters or actions became NaN or infinite (a step size too large). Training stops before
    that policy is evaluated or saved: a checkpoint holding NaN could not be loaded."""


def _diverged(env_steps: int, what: str) -> TrainingDiverged:
    return TrainingDiverged(f"training diverged by env step {env_steps}: {what}; lower the learning rate or step size")


@dataclass(frozen=True)
class EvalRecord:
    env_steps: int
    wall_seconds: float
    eval_return_mean: float
    eval_return_std: float


@dataclass
class TrainResult:
    policy: Any
    env_steps: int
    wall_seconds: float
    eval_return_mean: float
    eval_return_std: float
    solved_env_steps: int | None
    solved_wall_seconds: float | None
    history: list[EvalRecord] = field(default_factory=list)


class TrainingMonitor:
    """Evaluates every ``eval_every`` env steps with ``eval_episodes`` deterministic episodes.

    Solved means: mean evaluation return >= the env spec's ``reward_threshold``. Wall time counts from the
    monitor's creation, evaluation included.
    """

    def __init__(
        self,
        env_id: str,
        seed: int,
        total_steps: int,
        eval_every: int,
        eval_episodes: int = 20,
        stop_when_solved: bool = True,
        on_evaluation: Callable[[EvalRecord, Any], None] | None = None,
        progress: bool = False,
    ) -> None:
        if eval_episodes < 20:
            raise ValueError(f"eval_episodes must be at least 20 for the solved rule, got {eval_episodes}")
        if eval_every < 1 or total_steps < 1:
            raise ValueError(f"eval_every and total_steps must be positive, got {eval_every} and {total_steps}")
        spec = gym.spec(registered_id(env_id))
        if spec.reward_threshold is None:
            raise ValueError(f"{env_id} has no reward_threshold in its spec, so 'solved' is undefined")
        self.env_id = env_id
        self.reward_threshold = float(spec.reward_threshold)
        self.eval_seed = seed + EVAL_SEED_OFFSET
        self.total_steps = total_steps
        self.eval_every = eval_every
        self.eval_episodes = eval_episodes
        self.stop_when_solved = stop_when_solved
        self.on_evaluation = on_evaluation
        self.history: list[EvalRecord] = []
        self.solved: EvalRecord | None = None
        self.env_steps = 0
        self._next_eval = eval_every
        self._start = time.perf_counter()
        self._bar = _progress_bar(total_steps, env_id) if progress else None

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> TrainingMonitor:
        """A monitor from the fields every algorithm config starts with (``env_id`` ... ``progress``)."""
        return cls(
            config.env_id,
            config.seed,
            config.total_steps,
            config.eval_every,
            eval_episodes=config.eval_episodes,
            stop_when_solved=config.stop_when_solved,
            progress=config.progress,
            **kwargs,
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def update(self, env_steps: int, policy: Policy) -> bool:
        """Record progress; evaluate when the cadence is due. True when the loop should stop."""
        if self._bar is not None:
            self._bar.update(env_steps - self.env_steps)
        self.env_steps = env_steps
        if env_steps >= self._next_eval or env_steps >= self.total_steps:
            self._next_eval = (env_steps // self.eval_every + 1) * self.eval_every
            self.evaluate(policy)
            if self.solved is not None and self.stop_when_solved:
                return True
        return env_steps >= self.total_steps

    def evaluate(self, policy: Policy) -> EvalRecord:
        tensors = policy.tensors() if hasattr(policy, "tensors") else {}
        bad = [name for name, tensor in tensors.items() if tensor.is_floating_point() and not tensor.isfinite().all()]
        if bad:
            raise _diverged(self.env_steps, f"the policy's {', '.join(bad)} became NaN or infinite")
        try:
            returns = evaluate(policy, self.env_id, self.eval_episodes, self.eval_seed)
        except NonFiniteActions as error:
            raise _diverged(self.env_steps, str(error)) from error
        record = EvalRecord(self.env_steps, self.elapsed(), float(returns.mean()), float(returns.std()))
        self.history.append(record)
        if self.solved is None and record.eval_return_mean >= self.reward_threshold:
            self.solved = record
        if self._bar is not None:
            self._bar.set_postfix(eval_return=f"{record.eval_return_mean:.1f}", refresh=False)
        if self.on_evaluation is not None:
            self.on_evaluation(record, policy)
        return record

    def close(self) -> None:
        """Close the progress bar; safe to call again, and called by ``finish``."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> TrainingMonitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()  # also on Ctrl-C or an error inside the training loop

    def finish(self, policy: Any) -> TrainResult:
        """Close the progress bar and return the result; evaluates once more if the last update was not."""
        if not self.history or self.history[-1].env_steps != self.env_steps:
            self.evaluate(policy)
        self.close()
        last = self.history[-1]
        return TrainResult(
            policy=policy,
            env_steps=self.env_steps,
            wall_seconds=self.elapsed(),
            eval_return_mean=last.eval_return_mean,
            eval_return_std=last.eval_return_std,
            solved_env_steps=None if self.solved is None else self.solved.env_steps,
            solved_wall_seconds=None if self.solved is None else self.solved.wall_seconds,
            history=list(self.history),
        )


def _progress_bar(total: int, label: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="step", unit_scale=True, dynamic_ncols=True)
