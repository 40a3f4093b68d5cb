"""Throughput of TorchCartPoleVectorEnv (eager and compiled) against Gymnasium's and our NumPy vector envs.

    python benchmarks/bench_torch_env.py [--device cpu|cuda] [--reps 5] [--quick] [--max-log2 20] [--max-log2-cuda 24]

Every env runs the discrete cart-pole (Gymnasium's is discrete only) with fixed random actions, in one process on
the same machine; each cell is the median over repetitions of env-steps per second (autoresets included). Torch
runs with one CPU thread (the project's default) on ``--device``: "eager" and "fused" (``compile=True``, its
compile time in seconds beside it) pass ``validate_actions=False`` (no host read per step), "checked" keeps the
default value checks. Gymnasium and NumPy always run on the CPU, up to ``2**max_log2`` envs; with ``--device cuda``
the torch columns go on to ``2**max_log2_cuda``. Ratios are against Gymnasium's CartPoleVectorEnv and our NumPy env
with a float32 state, measured in this run.
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


CPU_COLUMNS = ("Gymnasium", "NumPy f64", "NumPy f32")
TORCH_COLUMNS = ("torch eager", "torch checked", "torch fused")
RATIOS = (("torch eager", "Gymnasium"), ("torch fused", "Gymnasium"), ("torch fused", "NumPy f32"))


def cpu_cells(num_envs: int, steps: int, reps: int) -> dict[str, float]:
    cells = {"Gymnasium": numpy_steps_per_second(GymnasiumCartPoleVectorEnv(num_envs=num_envs), steps, reps)}
    for label, dtype in (("NumPy f64", np.float64), ("NumPy f32", np.float32)):
        cells[label] = numpy_steps_per_second(CartPoleVectorEnv(num_envs, continuous=False, dtype=dtype), steps, reps)
    return cells


def torch_cells(num_envs: int, device: str, steps: int, reps: int) -> tuple[dict[str, float], float]:
    """Steps per second of the eager, checked and fused torch envs; and the fused env's compile seconds."""
    cells, compile_seconds = {}, 0.0
    for label, validate, fused in (
        ("torch eager", False, False),
        ("torch checked", True, False),
        ("torch fused", False, True),
    ):
        envs = TorchCartPoleVectorEnv(
            num_envs, continuous=False, device=device, validate_actions=validate, compile=fused
        )
        cells[label] = torch_steps_per_second(envs, steps, reps)
        compile_seconds = envs.compile_seconds or compile_seconds
    return cells, compile_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the torch envs run")
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians are reported")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and fewer steps per repetition")
    parser.add_argument("--max-log2", type=int, default=20, help="largest N = 2**max_log2 on the CPU")
    parser.add_argument("--max-log2-cuda", type=int, default=24, help="largest N = 2**max_log2_cuda on CUDA")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available; use --device cpu")
    budget = 1e6 if args.quick else 4e6
    exponent_step = 4 if args.quick else 2
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"numpy {np.__version__}, gymnasium {gym.__version__}, torch {torch.__version__} (1 CPU thread), "
        f"torch on {torch.cuda.get_device_name() if cuda else 'the CPU'}; medians of {args.reps} repetitions, "
        "M env-steps/s\n"
    )
    columns = [*CPU_COLUMNS, *TORCH_COLUMNS]
    ratio_columns = [f"{top.removeprefix('torch ')} / {bottom}" for top, bottom in RATIOS]
    print("| N | " + " | ".join([*columns, "compile s", *ratio_columns]) + " |")
    print("|---" * (2 + len(columns) + len(ratio_columns)) + "|")

    top = args.max_log2_cuda if cuda else args.max_log2
    for exponent in range(10, top + 1, exponent_step):
        num_envs = 2**exponent
        steps = steps_per_rep(num_envs, budget)
        cells: dict[str, float] = {}
        if exponent <= args.max_log2:
            cells.update(cpu_cells(num_envs, steps, args.reps))
        torch_steps = max(steps, 200) if cuda else steps  # short CUDA runs would time the launch queue
        torch_results, compile_seconds = torch_cells(num_envs, args.device, torch_steps, args.reps)
        cells.update(torch_results)
        values = [f"{cells[c] / 1e6:.1f}" if c in cells else "-" for c in columns]
        ratios = [ratio(cells, numerator, denominator) for numerator, denominator in RATIOS]
        print(f"| 2^{exponent} | " + " | ".join([*values, f"{compile_seconds:.1f}", *ratios]) + " |", flush=True)


def ratio(cells: dict[str, float], numerator: str, denominator: str) -> str:
    top, bottom = cells.get(numerator), cells.get(denominator)
    return "-" if top is None or bottom is None else f"{top / bottom:.2f}"


if __name__ == "__main__":
    main()
