"""Policy checkpoints as tensors only: safetensors, whose loader parses a JSON header and raw bytes and never unpickles.

The policy's ``metadata()`` (JSON-able, enough to rebuild it) is stored as one JSON string in the safetensors
metadata, so ints, floats and bools keep their types. Anything that is not a complete safetensors file written here
(a truncated file, a ``torch.save`` pickle or zip renamed, random bytes) raises ``CheckpointError`` naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baselines.atomic import atomic_write_bytes

if TYPE_CHECKING:
    import torch

CHECKPOINT_FILE = "policy.safetensors"
FORMAT = "continuous-cartpole-policy/1"
_FORMAT_KEY = "format"
_METADATA_KEY = "policy_metadata"

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = 0x80  # pickles of protocol 2 or later start with the PROTO opcode, then the version


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded safely; the message names the file and the problem."""


def save_checkpoint(path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write ``tensors`` and JSON-able ``metadata`` to ``path`` atomically."""
    from safetensors.torch import save

    try:
        metadata_json = json.dumps(metadata, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise TypeError(f"policy metadata must be JSON-able without NaN/inf: {error}") from error
    # safetensors wants contiguous CPU tensors; copying here keeps the caller's tensors (maybe on CUDA) as they are
    cpu_tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in tensors.items()}
    data = save(cpu_tensors, metadata={_FORMAT_KEY: FORMAT, _METADATA_KEY: metadata_json})
    atomic_write_bytes(path, data)


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return ``(tensors, metadata)`` from a checkpoint written by ``save_checkpoint``; CPU tensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        # Read into memory rather than safe_open's memory map: mapped tensors crash the process (SIGBUS) when
        # someone truncates the file while they are alive.
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except OSError as error:
        raise CheckpointError(f"checkpoint {path} cannot be read: {error}") from error
    try:
        tensors = load(data)
    except SafetensorError as error:
        raise CheckpointError(f"checkpoint {path} {_what_is_wrong(data)}: {error}") from error
    stored_metadata = _header_metadata(data)
    if stored_metadata.get(_FORMAT_KEY) != FORMAT or _METADATA_KEY not in stored_metadata:
        raise CheckpointError(f"checkpoint {path} is a safetensors file but not a policy checkpoint ({FORMAT})")
    try:
        metadata = json.loads(stored_metadata[_METADATA_KEY])
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint {path} has corrupt policy metadata: {error}") from error
    if not isinstance(metadata, dict):
        raise CheckpointError(f"checkpoint {path} has policy metadata that is not a JSON object")
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise CheckpointError(f"checkpoint {path} holds NaN or infinite values in tensor {name!r}")
    return tensors, metadata


def _header_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header (8-byte little-endian length, then JSON); already validated."""
    header_length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8 : 8 + header_length]).get("__metadata__")
    return metadata if isinstance(metadata, dict) else {}


def _what_is_wrong(data: bytes) -> str:
    """Name the common wrong formats; safetensors itself only says 'header too large'.

    Sniffed only after safetensors refused the file: a valid header length can start with the same bytes.
    """
    if data[:4] == _ZIP_MAGIC:
        return "is a zip archive (torch.save's or SB3's format), refused because loading it can unpickle and run code"
    if len(data) >= 2 and data[0] == _PICKLE_PROTO and 2 <= data[1] <= 5:
        return "is a pickle (torch.save's legacy format), refused because unpickling can run code"
    return "is truncated or corrupt (not a complete safetensors file)"
