"""Cost of driving Stable-Baselines3 through our TrainingMonitor callback, per algorithm; prints time ratios.

Each algorithm learns the same number of env steps on DiscreteCartPole-v0 (ContinuousCartPole-v0 for SAC/TD3) twice,
on one CPU thread: plain ``model.learn`` and ``model.learn`` with the callback ``baselines.sb3`` uses, whose monitor
is set so that it never evaluates (the evaluations themselves are the protocol, not overhead). The ratio is
callback time / plain time; 1.0 means the callback is free. Run: ``python benchmarks/bench_sb3_callback.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from stable_baselines3.common.env_util import make_vec_env

from baselines.sb3 import CONFIGS, SB3Policy, _MonitorCallback, build_model, policy_metadata
from baselines.training import TrainingMonitor

STEPS = {"ppo": 20_000, "a2c": 20_000, "dqn": 10_000, "sac": 1_500, "td3": 2_000, "sb3-ars": 20_000}


def time_learn(algo: str, env_id: str, steps: int, with_callback: bool) -> float:
    config = CONFIGS[algo](env_id, device="cpu")
    hyperparams = config.sb3_hyperparams
    envs = make_vec_env(env_id, n_envs=int(hyperparams.get("n_envs", 1)), seed=0)
    model = build_model(algo, hyperparams, envs, 0, torch.device("cpu"))
    callback = None
    if with_callback:
        monitor = TrainingMonitor(env_id, 0, total_steps=10 * steps, eval_every=10 * steps)  # never evaluates
        callback = _MonitorCallback(monitor, SB3Policy(model.policy, policy_metadata(algo, env_id, model, hyperparams)))
    start = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callback)
    elapsed = time.perf_counter() - start
    envs.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'algo':8} {'steps':>7} {'plain s':>8} {'callback s':>10} {'ratio':>6}")
    for algo, steps in STEPS.items():
        env_id = "ContinuousCartPole-v0" if algo in ("sac", "td3") else "DiscreteCartPole-v0"
        time_learn(algo, env_id, min(steps, 500), True)  # warm-up: lazy imports, first optimizer
        plain_times, hooked_times = [], []
        for _ in range(args.repeats):  # interleaved, so a change in machine load hits both alike
            plain_times.append(time_learn(algo, env_id, steps, False))
            hooked_times.append(time_learn(algo, env_id, steps, True))
        plain, hooked = statistics.median(plain_times), statistics.median(hooked_times)
        print(f"{algo:8} {steps:>7} {plain:>8.2f} {hooked:>10.2f} {hooked / plain:>6.2f}")


if __name__ == "__main__":
    main()
