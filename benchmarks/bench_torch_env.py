"""Throughput of TorchCartPoleVectorEnv against Gymnasium's CartPoleVectorEnv and our NumPy CartPoleVectorEnv.

    python benchmarks/bench_torch_env.py [--reps 5] [--quick] [--max-log2 20] [--max-log2-cuda 24]

Every env runs the discrete cart-pole (Gymnasium's is discrete only) with fixed random actions, in one process on
the same machine; each cell is the median over repetitions of env-steps per second (autoresets included). Torch
runs on the CPU with one thread (the project's default) and on CUDA when available; "no checks" passes
``validate_actions=False`` (no host read per step), "checked" keeps the default value checks. Ratios are against
Gymnasium's CartPoleVectorEnv and against our NumPy env with a float32 state, measured in this run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv as GymnasiumCartPoleVectorEnv

from continuous_cartpole import CartPoleVectorEnv
from continuous_cartpole.torch_vector import TorchCartPoleVectorEnv

ACTION_BATCHES = 8  # distinct action batches cycled through, pre-generated so that drawing them is not timed


def median_seconds(run: Callable[[], None], reps: int, synchronize: Callable[[], None]) -> float:
    run()  # warm-up (allocator, caches, CUDA kernels)
    synchronize()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def numpy_steps_per_second(envs: gym.vector.VectorEnv, steps: int, reps: int) -> float:
    actions = np.random.default_rng(0).integers(0, 2, size=(ACTION_BATCHES, envs.num_envs))
    envs.reset(seed=0)

    def run() -> None:
        for i in range(steps):
            envs.step(actions[i % ACTION_BATCHES])

    return envs.num_envs * steps / median_seconds(run, reps, lambda: None)


def torch_steps_per_second(envs: TorchCartPoleVectorEnv, steps: int, reps: int) -> float:
    generator = torch.Generator().manual_seed(0)
    actions = torch.randint(0, 2, (ACTION_BATCHES, envs.num_envs), generator=generator).to(envs.device)
    envs.reset(seed=0)
    synchronize = torch.cuda.synchronize if envs.device.type == "cuda" else (lambda: None)

    def run() -> None:
        for i in range(steps):
            envs.step(actions[i % ACTION_BATCHES])

    return envs.num_envs * steps / median_seconds(run, reps, synchronize)


def steps_per_rep(num_envs: int, budget: float) -> int:
    """Steps per repetition: about ``budget`` env-steps, at least 5 batched steps."""
    return max(5, int(budget / num_envs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians are reported")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and fewer steps per repetition")
    parser.add_argument("--max-log2", type=int, default=20, help="largest N = 2**max_log2 on the CPU")
    parser.add_argument("--max-log2-cuda", type=int, default=24, help="largest N = 2**max_log2_cuda on CUDA")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cuda = torch.cuda.is_available()
    budget = 1e6 if args.quick else 4e6
    exponent_step = 4 if args.quick else 2
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}, gymnasium {gym.__version__}, torch {torch.__version__} (1 CPU thread)"
        f"{', ' + torch.cuda.get_device_name() if cuda else ', no CUDA'}; medians of {args.reps} repetitions, "
        "M env-steps/s\n"
    )
    columns = ["Gymnasium", "NumPy f64", "NumPy f32", "torch CPU no checks", "torch CPU checked"]
    if cuda:
        columns += ["torch CUDA no checks", "torch CUDA checked"]
    ratio_columns = ["torch CPU / Gymnasium", "torch CPU / NumPy f32"] + (
        ["torch CUDA / Gymnasium", "torch CUDA / NumPy f32"] if cuda else []
    )
    print("| N | " + " | ".join(columns + ratio_columns) + " |")
    print("|---" * (1 + len(columns) + len(ratio_columns)) + "|")

    top = max(args.max_log2, args.max_log2_cuda if cuda else 0)
    for exponent in range(10, top + 1, exponent_step):
        num_envs = 2**exponent
        steps = steps_per_rep(num_envs, budget)
        cells: dict[str, float | None] = dict.fromkeys(columns)
        if exponent <= args.max_log2:
            cells["Gymnasium"] = numpy_steps_per_second(GymnasiumCartPoleVectorEnv(num_envs=num_envs), steps, args.reps)
            for label, dtype in (("NumPy f64", np.float64), ("NumPy f32", np.float32)):
                envs = CartPoleVectorEnv(num_envs, continuous=False, dtype=dtype)
                cells[label] = numpy_steps_per_second(envs, steps, args.reps)
            for label, validate in (("torch CPU no checks", False), ("torch CPU checked", True)):
                envs = TorchCartPoleVectorEnv(num_envs, continuous=False, validate_actions=validate)
                cells[label] = torch_steps_per_second(envs, steps, args.reps)
        if cuda and exponent <= args.max_log2_cuda:
            cuda_steps = max(steps, 200)  # short CUDA runs would time the launch queue, not the steps
            for label, validate in (("torch CUDA no checks", False), ("torch CUDA checked", True)):
                envs = TorchCartPoleVectorEnv(num_envs, continuous=False, device="cuda", validate_actions=validate)
                cells[label] = torch_steps_per_second(envs, cuda_steps, args.reps)
        ratios = [ratio(cells, "torch CPU no checks", "Gymnasium"), ratio(cells, "torch CPU no checks", "NumPy f32")]
        if cuda:
            ratios += [
                ratio(cells, "torch CUDA no checks", "Gymnasium"),
                ratio(cells, "torch CUDA no checks", "NumPy f32"),
            ]
        values = ["-" if cells[c] is None else f"{cells[c] / 1e6:.1f}" for c in columns]
        print(f"| 2^{exponent} | " + " | ".join(values + ratios) + " |", flush=True)


def ratio(cells: dict[str, float | None], numerator: str, denominator: str) -> str:
    top, bottom = cells.get(numerator), cells.get(denominator)
    return "-" if top is None or bottom is None else f"{top / bottom:.2f}"


if __name__ == "__main__":
    main()
