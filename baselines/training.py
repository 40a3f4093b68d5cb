"""What every training run shares: the evaluation protocol, the "solved" rule, the final test, and the result.

An algorithm's ``train(config, monitor=None)`` calls ``monitor.update(env_steps, policy)`` after each update; the
monitor evaluates on a fixed cadence of env steps and tells the loop when to stop. Writing files is the job of the
``on_evaluation`` callback (the CLI passes one), so ``train`` stays usable from tests and notebooks.

The protocol, for ours and SB3's alike:

- curve evaluation: every ``eval_every`` env steps, ``eval_episodes`` deterministic episodes whose start states
  change from one evaluation to the next;
- confirmation: when a curve evaluation's mean reaches the spec's ``reward_threshold``, ``CONFIRM_EPISODES`` more
  episodes on start states used nowhere else run at once. The run is solved at the first confirmation whose mean
  reaches the threshold (classic CartPole: the threshold over 100 consecutive episodes); a single curve evaluation
  is a first-passage statistic, biased upward;
- best: the policy with the highest confirmation mean (SB3's ``EvalCallback`` keeps ``best_model`` the same way);
  until a confirmation has run, the latest policy;
- test: every run ends with ``TEST_EPISODES`` episodes of the best policy on held-out start states;
- physics: a run trained with ``randomize`` has its curve evaluations and confirmations drawn from the same ranges
  (each evaluation env from its own seed), so "solved" and "best" judge what it trains for; the test is nominal;
- stop: ``stop_when_solved`` stops at the first confirmed solve, or with ``until_perfect`` (ARS's and REINFORCE's
  default) at the first confirmation in which every episode lasts the whole time limit. Policies stopped at the
  first passing confirmation still dropped the pole on a few start states (REINFORCE down to 474.9 on an
  independent 100-episode test); training on until a perfect confirmation costs a few seconds more.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from baselines import tensorboard_log as tensorboard
from baselines.algorithms import BEST, LAST
from baselines.configs import EVAL_EPISODES, randomize_kwargs
from baselines.evaluation import NonFiniteActions, Policy, evaluate_episodes
from continuous_cartpole.registration import registered_id

CONFIRM_EPISODES = 100
TEST_EPISODES = 100

# Evaluation seeds. A Gymnasium vector env seeds sub-env i with seed + i, so an evaluation of n episodes with seed s
# uses the seeds [s, s + n): streams must be disjoint as RANGES. Run seed r owns the block [(r + 1) B, (r + 2) B)
# with B = _SEED_BLOCK, cut into three parts of _SEED_PART: test, confirmations, curve evaluations, each evaluation
# taking the next n seeds of its part (``_stream_seed`` refuses to run past a part). The training envs use seeds
# [r, r + k) for k sub-envs (SB3's make_vec_env), and r + k <= r * B + B = (r + 1) B for any k <= B: below the block.
_SEED_BLOCK = 2**40
_SEED_PART = 2**38
_TEST_PART, _CONFIRM_PART, _CURVE_PART = 0, 1, 2


def _stream_seed(run_seed: int, part: int, index: int, episodes: int) -> int:
    if (index + 1) * episodes > _SEED_PART:
        raise ValueError(f"evaluation {index} of {episodes} episodes runs past its seed range; evaluate less often")
    return (run_seed + 1) * _SEED_BLOCK + part * _SEED_PART + index * episodes


def test_seed(run_seed: int) -> int:
    """Seed of the held-out test (and of ``cartpole-baselines evaluate`` by default): its start states are used by
    no training env, curve evaluation or confirmation of the run."""
    return _stream_seed(run_seed, _TEST_PART, 0, 1)


def confirmation_seed(run_seed: int, index: int) -> int:
    """Seed of the run's ``index``-th confirmation (``CONFIRM_EPISODES`` episodes, counted from 0)."""
    return _stream_seed(run_seed, _CONFIRM_PART, index, CONFIRM_EPISODES)


def curve_seed(run_seed: int, index: int, episodes: int) -> int:
    """Seed of the run's ``index``-th curve evaluation of ``episodes`` episodes (counted from 0)."""
    return _stream_seed(run_seed, _CURVE_PART, index, episodes)


class TrainingDiverged(FloatingPointError):
    """The policy's parameters or actions became NaN or infinite (a step size too large). Training stops before
    that policy is evaluated or saved: a checkpoint holding NaN could not be loaded."""


def _diverged(env_steps: int, what: str) -> TrainingDiverged:
    return TrainingDiverged(f"training diverged by env step {env_steps}: {what}; lower the learning rate or step size")


@dataclass(frozen=True)
class ReturnStats:
    mean: float
    std: float
    min: float
    episodes: int

    @classmethod
    def of(cls, returns: np.ndarray) -> ReturnStats:
        return cls(float(returns.mean()), float(returns.std()), float(returns.min()), int(returns.size))


@dataclass(frozen=True)
class EvalRecord:
    env_steps: int
    wall_seconds: float  # after the evaluation and its confirmation, if one ran
    eval_return_mean: float
    eval_return_std: float
    confirmation: ReturnStats | None = None  # the 100-episode confirmation this evaluation triggered


@dataclass
class TrainResult:
    policy: Any  # the last policy
    env_steps: int
    wall_seconds: float
    eval_return_mean: float  # of the last curve evaluation
    eval_return_std: float
    solved_env_steps: int | None
    solved_wall_seconds: float | None
    best_policy: Any  # highest confirmation mean; the last policy when no confirmation ran
    test_return_mean: float  # the held-out test of ``test_checkpoint``: the run's final return
    test_return_std: float
    test_return_min: float
    test_episodes: int
    test_checkpoint: str  # "best", or "last" when no confirmation ran (best is then the last policy)
    history: list[EvalRecord] = field(default_factory=list)


class TrainingMonitor:
    """Runs the protocol of the module docstring: curve evaluations, confirmations, best policy, final test.

    ``stop_when_solved`` stops training at the first confirmed solve; with ``until_perfect`` too, only at a
    confirmation in which every episode lasted the whole time limit (CartPole's reward is 1 per step, so a return
    of ``max_episode_steps``). Wall time counts from the monitor's creation, evaluations and confirmations included.
    ``on_evaluation(record, policy, is_best)`` is called after each curve evaluation; ``is_best`` says the policy is
    now the best one.
    """

    def __init__(
        self,
        env_id: str,
        seed: int,
        total_steps: int,
        eval_every: int,
        eval_episodes: int = EVAL_EPISODES,
        stop_when_solved: bool = True,
        on_evaluation: Callable[[EvalRecord, Any, bool], None] | None = None,
        progress: bool = False,
        until_perfect: bool = False,
        scalars: Any | None = None,
        eval_env_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if eval_episodes < EVAL_EPISODES:
            raise ValueError(f"eval_episodes must be at least {EVAL_EPISODES}, got {eval_episodes}")
        if eval_every < 1 or total_steps < 1:
            raise ValueError(f"eval_every and total_steps must be positive, got {eval_every} and {total_steps}")
        spec = gym.spec(registered_id(env_id))
        if spec.reward_threshold is None:
            raise ValueError(f"{env_id} has no reward_threshold in its spec, so 'solved' is undefined")
        self.env_id = env_id
        self.reward_threshold = float(spec.reward_threshold)
        # Only the balance task pays 1 per step, so only there does a return of the time limit mean "never failed";
        # a swing-up (no perfect return) stops at its first confirmed solve.
        balance = spec.kwargs.get("task", "balance") == "balance"
        self.perfect_return = float(spec.max_episode_steps) if balance and spec.max_episode_steps else None
        self.seed = seed
        self.total_steps = total_steps
        self.eval_every = eval_every
        self.eval_episodes = eval_episodes
        self.stop_when_solved = stop_when_solved
        self.until_perfect = until_perfect
        self.on_evaluation = on_evaluation
        self.scalars = scalars  # a TensorBoard SummaryWriter, or None
        # env keywords of the curve evaluations and confirmations: a randomized run's training physics, so that its
        # "solved" and best checkpoint are judged on what it trains for; the held-out test is always nominal
        self.eval_env_kwargs = eval_env_kwargs
        self.history: list[EvalRecord] = []
        self.solved: EvalRecord | None = None
        self.best: EvalRecord | None = None  # the evaluation whose confirmation has the highest mean
        self.best_policy: Any = None
        self.env_steps = 0
        self._next_eval = eval_every
        self._start = time.perf_counter()
        self._bar = _progress_bar(total_steps, env_id) if progress else None

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> TrainingMonitor:
        """A monitor from the fields every algorithm config starts with (``env_id`` ... ``progress``), and
        ``until_perfect`` where the config has it (ARS), and ``randomize`` (its physics for the evaluations)."""
        return cls(
            config.env_id,
            config.seed,
            config.total_steps,
            config.eval_every,
            eval_episodes=config.eval_episodes,
            stop_when_solved=config.stop_when_solved,
            progress=config.progress,
            until_perfect=getattr(config, "until_perfect", False),
            eval_env_kwargs=randomize_kwargs(config) or None,
            **kwargs,
        )

    @property
    def confirmations(self) -> list[EvalRecord]:
        return [record for record in self.history if record.confirmation is not None]

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    @property
    def records_statistics(self) -> bool:
        """Whether ``update`` writes training statistics anywhere: loops compute them only then."""
        return self.scalars is not None

    def update(self, env_steps: int, policy: Policy, statistics: dict[str, float] | None = None) -> bool:
        """Record progress and the update's ``statistics``; evaluate when the cadence is due. True: stop the loop."""
        self.write_scalars(statistics or {}, env_steps)
        if self._bar is not None:
            self._bar.update(env_steps - self.env_steps)
        self.env_steps = env_steps
        if env_steps >= self._next_eval or env_steps >= self.total_steps:
            self._next_eval = (env_steps // self.eval_every + 1) * self.eval_every
            self.evaluate(policy)
            if self.stop_when_solved and self._holds():
                return True
        return env_steps >= self.total_steps

    def _holds(self) -> bool:
        """Solved, and with ``until_perfect`` perfect on the latest confirmation."""
        if self.solved is None:
            return False
        if not self.until_perfect or self.perfect_return is None:
            return True
        latest = self.history[-1].confirmation
        return latest is not None and self.perfect_return is not None and latest.min >= self.perfect_return

    def evaluate(self, policy: Policy) -> EvalRecord:
        """One curve evaluation, and its confirmation when it reaches the threshold."""
        tensors = policy.tensors() if hasattr(policy, "tensors") else {}
        bad = [name for name, tensor in tensors.items() if tensor.is_floating_point() and not tensor.isfinite().all()]
        if bad:
            raise _diverged(self.env_steps, f"the policy's {', '.join(bad)} became NaN or infinite")
        seed = curve_seed(self.seed, len(self.history), self.eval_episodes)
        returns, lengths = self._episodes(policy, self.eval_episodes, seed, self.eval_env_kwargs)
        confirmation = None
        if returns.mean() >= self.reward_threshold:
            seed = confirmation_seed(self.seed, len(self.confirmations))
            confirmation = ReturnStats.of(self._returns(policy, CONFIRM_EPISODES, seed, self.eval_env_kwargs))
        record = EvalRecord(self.env_steps, self.elapsed(), float(returns.mean()), float(returns.std()), confirmation)
        self.history.append(record)
        is_best = self._update_best(record, policy)
        self.write_scalars(
            {
                tensorboard.EVAL_RETURN_MEAN: record.eval_return_mean,
                tensorboard.EVAL_RETURN_STD: record.eval_return_std,
                tensorboard.EVAL_LENGTH_MEAN: float(lengths.mean()),
                tensorboard.TIME_ELAPSED: record.wall_seconds,
                tensorboard.TIME_ENV_STEPS: record.env_steps,
                tensorboard.TIME_FPS: record.env_steps / max(record.wall_seconds, 1e-9),
            },
            record.env_steps,
        )
        if confirmation is not None:
            self.write_scalars({"eval/confirmation_mean": confirmation.mean}, record.env_steps)
        if self._bar is not None:
            self._bar.set_postfix(eval_return=f"{record.eval_return_mean:.1f}", refresh=False)
        if self.on_evaluation is not None:
            self.on_evaluation(record, policy, is_best)
        return record

    def _update_best(self, record: EvalRecord, policy: Policy) -> bool:
        """Track the solve and the best policy; True when ``policy`` is now the best one."""
        confirmation = record.confirmation
        if confirmation is None:
            if self.best is not None:
                return False
            self.best_policy = policy  # no confirmation yet: the best is the latest policy
            return True
        if self.solved is None and confirmation.mean >= self.reward_threshold:
            self.solved = record
        if self.best is not None and confirmation.mean <= self.best.confirmation.mean:  # type: ignore[union-attr]
            return False
        self.best = record
        self.best_policy = copy.deepcopy(policy)  # training goes on updating the policy in place
        return True

    def _returns(
        self, policy: Policy, episodes: int, seed: int, env_kwargs: dict[str, Any] | None = None
    ) -> np.ndarray:
        return self._episodes(policy, episodes, seed, env_kwargs)[0]

    def _episodes(
        self, policy: Policy, episodes: int, seed: int, env_kwargs: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        try:
            return evaluate_episodes(policy, self.env_id, episodes, seed, env_kwargs=env_kwargs)
        except NonFiniteActions as error:
            raise _diverged(self.env_steps, str(error)) from error

    def write_scalars(self, values: dict[str, float], env_steps: int) -> None:
        """Scalars at ``env_steps``, under SB3's tag where SB3 logs the same quantity (``tensorboard_log``)."""
        if self.scalars is not None:
            for tag, value in values.items():
                self.scalars.add_scalar(tensorboard.SB3_TAGS.get(tag, tag), value, env_steps)

    def close(self) -> None:
        """Close the progress bar and flush the scalars; safe to call again, and called by ``finish``."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.scalars is not None:
            self.scalars.flush()

    def __enter__(self) -> TrainingMonitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()  # also on Ctrl-C or an error inside the training loop

    def finish(self, policy: Any) -> TrainResult:
        """Evaluate once more if the last update was not, test the best policy on held-out start states, and
        return the result. ``wall_seconds`` stops before the test."""
        if not self.history or self.history[-1].env_steps != self.env_steps:
            self.evaluate(policy)
        self.close()
        wall_seconds = self.elapsed()
        test = ReturnStats.of(self._returns(self.best_policy, TEST_EPISODES, test_seed(self.seed)))
        test_scalars = {"test/return_mean": test.mean, "test/return_std": test.std, "test/return_min": test.min}
        self.write_scalars(test_scalars, self.env_steps)
        last = self.history[-1]
        return TrainResult(
            policy=policy,
            env_steps=self.env_steps,
            wall_seconds=wall_seconds,
            eval_return_mean=last.eval_return_mean,
            eval_return_std=last.eval_return_std,
            solved_env_steps=None if self.solved is None else self.solved.env_steps,
            solved_wall_seconds=None if self.solved is None else self.solved.wall_seconds,
            best_policy=self.best_policy,
            test_return_mean=test.mean,
            test_return_std=test.std,
            test_return_min=test.min,
            test_episodes=test.episodes,
            test_checkpoint=LAST if self.best is None else BEST,
            history=list(self.history),
        )


def _progress_bar(total: int, label: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="step", unit_scale=True, dynamic_ncols=True)
