"""Smoke test of an installed wheel, run from outside the source tree: ``PYTHON .ci/smoke_wheel.py envs|full``.

``envs``: a fresh virtual environment with the wheel and its base dependencies only (gymnasium, numpy, pygame):
the envs work, and neither torch nor the baselines' extras are needed. ``full``: the wheel over every extra
(``--system-site-packages``): every module of both packages imports from the wheel, and the command line trains
and evaluates a run. Either way the code must come from the environment's site-packages, not from a checkout.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import pkgutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path


def check_installed_from_the_wheel(package: str, skip: tuple[str, ...] = ()) -> None:
    module = importlib.import_module(package)
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    where = Path(module.__file__).resolve()
    assert where.is_relative_to(site), f"{package} imported from {where}, not from the wheel in {site}"
    for info in pkgutil.walk_packages(module.__path__, f"{package}."):
        if info.name not in skip and not info.name.endswith(".__main__"):  # __main__ would run the CLI
            importlib.import_module(info.name)  # a module missing from the wheel, or a missing dependency, fails here


mode = sys.argv[1]
distribution = importlib.metadata.distribution("continuous-cartpole")
assert distribution.version == importlib.import_module("continuous_cartpole").__version__, distribution.version
assert any(file.name == "LICENSE" for file in distribution.files or ()), "LICENSE is not in the wheel"
assert {"baselines", "ray", "video", "tensorboard"} <= set(distribution.metadata.get_all("Provides-Extra") or [])
check_installed_from_the_wheel("continuous_cartpole", skip=("continuous_cartpole.torch_vector",) * (mode == "envs"))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

env = gym.make("ContinuousCartPole-v0", render_mode="rgb_array")
env.reset(seed=0)
assert env.step(np.array([0.5], dtype=np.float32))[1] == 1.0 and env.render().shape[-1] == 3  # pygame renders
envs = gym.make_vec("DiscreteCartPole-v0", num_envs=8)
envs.reset(seed=0)
assert envs.step(np.ones(8, dtype=np.int64))[0].shape == (8, 4)

if mode == "envs":
    assert importlib.util.find_spec("torch") is None, "the base install pulled in torch"
else:
    check_installed_from_the_wheel("baselines")
    command = Path(sys.executable).with_name("cartpole-baselines")
    with tempfile.TemporaryDirectory() as temp:
        run = f"{temp}/run"
        for args in (
            ["train", "ars", "--env", "DiscreteCartPole-v0", "--out", run, "--no-progress"],
            ["evaluate", run, "--episodes", "20"],
        ):
            subprocess.run([str(command), *args], check=True, cwd=temp, stdout=subprocess.DEVNULL)
print(f"smoke test of the wheel ({mode}): ok")
