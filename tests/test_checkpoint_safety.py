"""A checkpoint costs what it honestly weighs, and a corrupted one is refused.

Every hostile file below is refused before its claims cost memory or time: not a regular file, over the size cap,
metadata too big or too deep, network sizes that the stored tensors do not have, tensor bytes that do not match
their SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as safetensors_save

from baselines.algorithms import get_algorithm
from baselines.checkpoint import (
    CHECKPOINT_FILE,
    FORMAT,
    MAX_CHECKPOINT_BYTES,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)

REPO = Path(__file__).resolve().parents[1]
# What refusing a file may add to the peak of a process that already imported torch and SB3. The process itself
# weighs 240-290 MB, depending on which optional packages SB3 finds (tensorboard adds ~50 MB): that is not the file's.
REFUSAL_MEMORY_LIMIT_MB = 32


def write_raw_checkpoint(path: Path, tensors: dict[str, torch.Tensor], metadata_text: str) -> None:
    """A checkpoint with any metadata text and a correct SHA-256: only the metadata is hostile."""
    payload = safetensors_save(tensors)
    tensor_bytes = payload[8 + int.from_bytes(payload[:8], "little") :]
    header = {
        "format": FORMAT,
        "policy_metadata": metadata_text,
        "tensors_sha256": hashlib.sha256(tensor_bytes).hexdigest(),
    }
    path.write_bytes(safetensors_save(tensors, metadata=header))


def reinforce_checkpoint(path: Path, **metadata_changes: object) -> None:
    from baselines.reinforce import ReinforcePolicy

    policy = ReinforcePolicy("DiscreteCartPole-v0", False, 16, False)
    save_checkpoint(path, policy.tensors(), {**policy.metadata(), **metadata_changes})


def sb3_checkpoint(path: Path, policy_kwargs: dict[str, object]) -> None:
    """A PPO policy (64 x 64) whose metadata claims other ``policy_kwargs``."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    from baselines.sb3 import policy_metadata

    model = PPO("MlpPolicy", gym.make("DiscreteCartPole-v0"), device="cpu")
    hyperparams = {"policy": "MlpPolicy", "policy_kwargs": policy_kwargs}
    metadata = policy_metadata("ppo", "DiscreteCartPole-v0", model, hyperparams)
    save_checkpoint(path, dict(model.policy.state_dict()), metadata)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    os.mkfifo(path)
    outcome: list[str] = []

    def load() -> None:
        try:
            load_checkpoint(path)
        except CheckpointError as error:
            outcome.append(str(error))

    reader = threading.Thread(target=load, daemon=True)  # a reader stuck on the FIFO must not keep pytest alive
    reader.start()
    reader.join(timeout=30)
    assert outcome and "not a regular file" in outcome[0]


def test_a_symlink_to_a_device_is_refused(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    path.symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(path)


def test_a_huge_sparse_file_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    with open(path, "wb") as file:
        file.truncate(20 * 1024**3)  # 20 GB of holes: costs no disk, would cost 20 GB of memory to read
    with pytest.raises(CheckpointError, match=f"over the {MAX_CHECKPOINT_BYTES}-byte cap"):
        load_checkpoint(path)


def test_a_flipped_bit_in_the_tensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    reinforce_checkpoint(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10  # inside the last tensor's bytes: the value changes, the file stays valid safetensors
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match the stored SHA-256"):
        load_checkpoint(path)


def test_a_checkpoint_without_a_checksum_is_refused(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(safetensors_save({"w": torch.zeros(2)}, metadata={"format": FORMAT, "policy_metadata": "{}"}))
    with pytest.raises(CheckpointError, match="no SHA-256"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("metadata_text", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, r"header claims \d+ bytes"),  # Python's parser would recurse 1e5 deep
        ("[" * 40_000 + "]" * 40_000, "80000 characters of metadata"),
        ('{"a": ' + "[" * 30_000 + "]" * 30_000 + "}", "corrupt policy metadata"),  # within the size cap
        ('{"a": ' + "[" * 20 + "]" * 20 + "}", "nested deeper"),
    ],
)
def test_metadata_is_bounded_in_size_and_depth(metadata_text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    write_raw_checkpoint(path, {"w": torch.zeros(2)}, metadata_text)
    with pytest.raises(CheckpointError, match=problem):
        load_checkpoint(path)


def test_reinforce_hidden_size_must_be_the_stored_one(tmp_path: Path) -> None:
    reinforce_checkpoint(tmp_path / CHECKPOINT_FILE, hidden_size=10**8)
    with pytest.raises(CheckpointError, match=r"hidden_size 100000000 does not match tensor net\.0\.weight"):
        get_algorithm("reinforce").load_policy(tmp_path, "last")


@pytest.mark.parametrize(
    ("policy_kwargs", "problem"),
    [
        ({"net_arch": [10_000] * 3}, "no weight of shape"),
        ({"net_arch": {"pi": [64, 64], "vf": [64, 5_000]}}, "no weight of shape"),
        ({"net_arch": [64, "64"]}, "list of integers in \\[1, "),
    ],
)
def test_sb3_network_sizes_must_be_the_stored_ones(
    policy_kwargs: dict[str, object], problem: str, tmp_path: Path
) -> None:
    sb3_checkpoint(tmp_path / CHECKPOINT_FILE, policy_kwargs)
    with pytest.raises(CheckpointError, match=problem):
        get_algorithm("ppo").load_policy(tmp_path, "last")


def test_sb3_action_space_must_fit_the_stored_output_layer(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_FILE
    sb3_checkpoint(path, {"net_arch": [64, 64]})
    tensors, metadata = load_checkpoint(path)
    metadata["action_space"] = json.dumps({"type": "Discrete", "n": 10**9, "start": 0})
    save_checkpoint(path, tensors, metadata)
    with pytest.raises(CheckpointError, match="does not match any output layer"):
        get_algorithm("ppo").load_policy(tmp_path, "last")


def test_the_sb3_policy_as_saved_still_loads(tmp_path: Path) -> None:
    sb3_checkpoint(tmp_path / CHECKPOINT_FILE, {"net_arch": [64, 64]})
    policy = get_algorithm("ppo").load_policy(tmp_path, "last")
    assert policy.predict([0.0, 0.0, 0.0, 0.0])[0].shape == ()


LOADING_SCRIPT = """
import re, sys, time
from pathlib import Path
import torch, stable_baselines3, sb3_contrib  # imported before the baseline: their cost is not the files'
from baselines.algorithms import get_algorithm
from baselines.checkpoint import CheckpointError

def peak_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so it would report pytest's own peak
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024

print("baseline", peak_mb(), 0)
for argument in sys.argv[1:]:
    name, algo, folder = argument.split("=")
    start = time.perf_counter()
    try:
        get_algorithm(algo).load_policy(folder, "last")
    except CheckpointError:
        pass
    else:
        raise SystemExit(name + " was not refused")
    print(name, peak_mb(), round(time.perf_counter() - start, 4))
"""


def sparse_file(path: Path) -> None:
    with open(path, "wb") as file:
        file.truncate(20 * 1024**3)


HOSTILE_CHECKPOINTS = {
    "dev-zero": ("ars", lambda path: path.symlink_to("/dev/zero")),
    "sparse-20GB": ("ars", sparse_file),
    "deep-metadata": ("ars", lambda path: write_raw_checkpoint(path, {"w": torch.zeros(2)}, "[" * 100_000)),
    "reinforce-hidden-1e8": ("reinforce", lambda path: reinforce_checkpoint(path, hidden_size=10**8)),
    "sb3-net-arch-1e4x3": ("ppo", lambda path: sb3_checkpoint(path, {"net_arch": [10_000] * 3})),
}


def test_refusing_a_hostile_checkpoint_stays_under_the_memory_limit(tmp_path: Path) -> None:
    """Peak memory (VmHWM, MB) of a fresh process, torch and SB3 imported, refusing each hostile file."""
    arguments = []
    for name, (algo, make) in HOSTILE_CHECKPOINTS.items():
        (tmp_path / name).mkdir()
        make(tmp_path / name / CHECKPOINT_FILE)
        arguments.append(f"{name}={algo}={tmp_path / name}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", LOADING_SCRIPT, *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    print(result.stdout)  # name, peak MB, seconds to refuse: the numbers the README quotes
    peaks = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()}
    assert peaks.keys() == {"baseline", *HOSTILE_CHECKPOINTS}
    assert max(peaks.values()) - peaks["baseline"] < REFUSAL_MEMORY_LIMIT_MB, result.stdout
