"""Policy checkpoints as tensors only: safetensors, whose loader parses a JSON header and raw bytes and never unpickles.

The policy's ``metadata()`` (JSON-able, enough to rebuild it) is stored as one JSON string in the safetensors
metadata, so ints, floats and bools keep their types, beside a SHA-256 of the tensor bytes. Anything that is not a
complete, unaltered safetensors file written here (a truncated file, a ``torch.save`` pickle or zip renamed, random
bytes, a flipped bit) raises ``CheckpointError`` naming the file.

A checkpoint costs what it weighs: only a regular file under ``MAX_CHECKPOINT_BYTES`` is read (never a device, a
FIFO or a huge sparse file), and its metadata is bounded in size and nesting before it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baselines.atomic import atomic_write_bytes
from baselines.bounded_read import FileRefused, parse_json, read_bytes

if TYPE_CHECKING:
    import torch

CHECKPOINT_FILE = "policy.safetensors"
FORMAT = "continuous-cartpole-policy/1"
_FORMAT_KEY = "format"
_METADATA_KEY = "policy_metadata"
_SHA256_KEY = "tensors_sha256"
# Our policies weigh kilobytes (SAC's 256 x 256 networks about 300 KB); the cap keeps a refused file cheap.
MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
MAX_METADATA_CHARS = 64 * 1024
MAX_METADATA_DEPTH = 8
_HEADER_LENGTH_BYTES = 8
_MAX_HEADER_BYTES = 2 * MAX_METADATA_CHARS  # the metadata, JSON-escaped, plus a line per tensor

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
    # The tensor bytes do not depend on the header, so a first serialisation gives the bytes to hash.
    tensor_bytes = _tensor_bytes(save(cpu_tensors))
    header = {_FORMAT_KEY: FORMAT, _METADATA_KEY: metadata_json, _SHA256_KEY: hashlib.sha256(tensor_bytes).hexdigest()}
    atomic_write_bytes(path, save(cpu_tensors, metadata=header))


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return ``(tensors, metadata)`` from a checkpoint written by ``save_checkpoint``; CPU tensors."""
    from safetensors.torch import load

    path = Path(path)
    tensors, metadata = _checked(path, load)
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise CheckpointError(f"checkpoint {path} holds NaN or infinite values in tensor {name!r}")
    return tensors, metadata


def verify_checkpoint(path: str | os.PathLike[str]) -> None:
    """Refuse (``CheckpointError``) anything but a complete, unaltered checkpoint written here; needs no torch."""
    from safetensors.numpy import load

    _checked(Path(path), load)


def _checked(path: Path, load: Callable[[bytes], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tensors (as ``load`` builds them) and the policy metadata, once the file has passed every check."""
    from safetensors import SafetensorError

    data = _read_regular_file(path)
    _check_header_size(path, data)
    try:
        tensors = load(data)
    except SafetensorError as error:
        raise CheckpointError(f"checkpoint {path} {_what_is_wrong(data)}: {error}") from error
    stored_metadata = _header_metadata(data)
    if stored_metadata.get(_FORMAT_KEY) != FORMAT or _METADATA_KEY not in stored_metadata:
        raise CheckpointError(f"checkpoint {path} is a safetensors file but not a policy checkpoint ({FORMAT})")
    _check_sha256(path, data, stored_metadata.get(_SHA256_KEY))
    return tensors, _parse_metadata(path, stored_metadata[_METADATA_KEY])


def _read_regular_file(path: Path) -> bytes:
    """The file's bytes: only a regular file within the cap (``baselines.bounded_read``)."""
    try:
        return read_bytes(path, MAX_CHECKPOINT_BYTES, "checkpoint")
    except FileRefused as error:
        raise CheckpointError(str(error)) from None


def _check_header_size(path: Path, data: bytes) -> None:
    """Refuse a header longer than any policy's before safetensors parses it."""
    header_length = int.from_bytes(data[:_HEADER_LENGTH_BYTES], "little")
    if header_length > _MAX_HEADER_BYTES:
        raise CheckpointError(
            f"checkpoint {path} {_what_is_wrong(data)}: its header claims {header_length} bytes, "
            f"over the {_MAX_HEADER_BYTES} of any policy's"
        )


def _tensor_bytes(data: bytes) -> bytes:
    header_length = int.from_bytes(data[:_HEADER_LENGTH_BYTES], "little")
    return data[_HEADER_LENGTH_BYTES + header_length :]


def _check_sha256(path: Path, data: bytes, stored: str | None) -> None:
    if stored is None:
        raise CheckpointError(f"checkpoint {path} has no SHA-256 of its tensors; retrain to write a checked one")
    if hashlib.sha256(_tensor_bytes(data)).hexdigest() != stored:
        raise CheckpointError(f"checkpoint {path} is corrupt: its tensor bytes do not match the stored SHA-256")


def _parse_metadata(path: Path, text: str) -> dict[str, Any]:
    """The policy metadata, bounded in size and nesting (deep JSON nesting makes Python's parser recurse)."""
    if len(text) > MAX_METADATA_CHARS:
        raise CheckpointError(f"checkpoint {path} has {len(text)} characters of metadata, over {MAX_METADATA_CHARS}")
    try:
        metadata = parse_json(text, f"checkpoint {path}'s policy metadata", max_depth=MAX_METADATA_DEPTH)
    except FileRefused as error:
        raise CheckpointError(f"corrupt policy metadata: {error}") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"checkpoint {path} has policy metadata that is not a JSON object")
    return metadata


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
