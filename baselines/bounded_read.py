"""Reading a file costs what a file of its kind should: every file the package reads goes through here.

A file is read only if it is a regular file no larger than the cap for its kind (never a device such as
``/dev/zero``, a FIFO that would block, a folder, or a huge sparse file): the open is non-blocking, the check is
made with ``fstat`` on the opened file (so a swapped path cannot slip past it), and at most ``cap + 1`` bytes are
read (a file that grows meanwhile is refused too). ``follow_symlinks=False`` also refuses a symbolic link
(``O_NOFOLLOW``). Parsed formats are bounded as well: JSON and YAML in nesting depth, YAML also in its number of
nodes after alias expansion (a "billion laughs" file is refused before anything is built), and CSV by its size.

Every refusal is a ``FileRefused`` (a ``ValueError``) whose one-line message names the file and the problem.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KIB = 1024
MIB = 1024 * KIB
# Caps per kind of file: several times the largest we write or ship, small enough that a refusal is cheap.
LOCK_BYTES = 64  # compare.lock: one pid
RUN_JSON_BYTES = 1 * MIB  # config.json, summary.json, worker_error.json: a few KiB each
METRICS_CSV_BYTES = 8 * MIB  # metrics.csv: about 50 bytes an evaluation, so over 150k evaluations
COMPARE_JSON_BYTES = 4 * MIB  # compare.json: about 170 bytes a planned run, so over 20k runs
RESULTS_CSV_BYTES = 8 * MIB  # results.csv and results.md: about 300 bytes a run, so over 25k runs
CURVES_CSV_BYTES = 16 * MIB  # learning_curves.csv: every evaluation of every run, about 250k in all
YAML_BYTES = 256 * KIB  # rl-baselines3-zoo hyperparameter files: about 20 KiB
PYTHON_SOURCE_BYTES = 1 * MIB  # an SB3 algorithm's source file, read for its defaults: about 20 KiB
YAML_MAX_NODES = 20_000  # after alias expansion; rl-baselines3-zoo's largest file has about 2,000
MAX_DEPTH = 32  # JSON and YAML nesting; our files nest 4 levels at most


class FileRefused(ValueError):
    """A file that is not read (or not parsed): the message names the file and why."""


def read_bytes(path: str | os.PathLike[str], cap: int, what: str = "file", *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file ``path``, at most ``cap`` of them; ``what`` names the kind in messages."""
    with open_regular(path, cap, what, follow_symlinks=follow_symlinks) as fd:
        try:
            data = _read_at_most(fd, cap + 1)  # the file may grow after fstat
        except OSError as error:
            raise FileRefused(f"{what} {path} cannot be read: {error.strerror or error}") from None
    if len(data) > cap:
        raise FileRefused(f"{what} {path} grew over its {cap}-byte cap while being read")
    return data


@contextlib.contextmanager
def open_regular(
    path: str | os.PathLike[str], cap: int, what: str = "file", *, follow_symlinks: bool = True
) -> Iterator[int]:
    """``with open_regular(path, cap, what) as fd``: a read-only descriptor of a regular file within ``cap`` bytes,
    closed at the end of the block."""
    fd = _open_checked(Path(path), cap, what, follow_symlinks, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def open_checked(path: str | os.PathLike[str], cap: int, what: str, *, flags: int, mode: int = 0o666) -> int:
    """A descriptor of ``path`` opened with ``flags`` (``O_CREAT`` allowed), never through a symbolic link, refused
    unless a regular file within ``cap`` bytes; the caller closes it."""
    return _open_checked(Path(path), cap, what, False, flags, mode)


def _open_checked(path: Path, cap: int, what: str, follow_symlinks: bool, flags: int, mode: int = 0o666) -> int:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; O_BINARY: Windows would translate line ends
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        dangling = " (a symbolic link to nothing)" if path.is_symlink() else ""
        raise FileRefused(f"{what} {path} does not exist{dangling}") from None
    except OSError as error:
        if not follow_symlinks and path.is_symlink():
            raise FileRefused(f"{what} {path} is a symbolic link; refused (replace it with a regular file)") from None
        raise FileRefused(f"{what} {path} cannot be opened: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{what} {path} is not a regular file ({_kind(info.st_mode)}); refused")
        if info.st_size > cap:
            raise FileRefused(f"{what} {path} weighs {info.st_size} bytes, over the {cap}-byte cap for its kind")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"))
    kinds += ((stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, total = [], 0
    while total < limit:
        chunk = os.read(fd, min(limit - total, 1 * MIB))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str], cap: int, what: str = "file", *, follow_symlinks: bool = True) -> str:
    """The file decoded as UTF-8 (bounded as ``read_bytes``)."""
    data = read_bytes(path, cap, what, follow_symlinks=follow_symlinks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileRefused(f"{what} {path} is not UTF-8 text: {error}") from None


def read_json(path: str | os.PathLike[str], cap: int, what: str = "file", *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in the file, nested at most ``max_depth`` levels."""
    return parse_json(read_text(path, cap, what), f"{what} {path}", max_depth=max_depth)


def parse_json(text: str, where: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text already bounded in size, refused when nested deeper than ``max_depth``, broken, or holding NaN or
    Infinity (not JSON; every file we write is written without them, so they come from an edit)."""

    def refuse(constant: str) -> None:
        raise FileRefused(f"{where} holds {constant}, which is not a JSON number")

    try:
        value = json.loads(text, parse_constant=refuse)
    except RecursionError:  # Python's parser recurses per level
        raise FileRefused(f"{where} is nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as error:
        raise FileRefused(f"{where} is not valid JSON: {error}") from None
    if _depth(value) > max_depth:
        raise FileRefused(f"{where} is nested deeper than {max_depth} levels")
    return value


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (``[]`` is 1, a scalar 0), level by level, without recursion."""
    deepest, level = 0, [value] if isinstance(value, (dict, list)) else []
    while level:
        deepest += 1
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend([child for child in children if isinstance(child, (dict, list))])
        level = below
    return deepest


def read_csv(path: str | os.PathLike[str], cap: int, what: str = "file") -> csv.DictReader[str]:
    """A ``csv.DictReader`` over the file's text, read whole within ``cap`` bytes (``line_num`` names lines)."""
    return csv.DictReader(io.StringIO(read_text(path, cap, what), newline=""))


def read_yaml(
    path: str | os.PathLike[str],
    cap: int = YAML_BYTES,
    what: str = "YAML file",
    *,
    max_nodes: int = YAML_MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """One YAML document as plain data: mappings, lists, strings, numbers, booleans and null.

    Bounded before anything is built: at most ``max_nodes`` nodes with every alias expanded (aliases make a small file
    stand for an exponential tree) and ``max_depth`` levels; recursive aliases, dates (kept as text), sets, binary and
    every other tag are refused.
    """
    import yaml

    text = read_text(path, cap, what)
    where = f"{what} {path}"
    loader = _plain_loader()(text)
    loader.max_depth, loader.max_nodes = max_depth, max_nodes
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if loader.aliased:  # without aliases, composing counted every node and level already
            _check_expanded_size(node, where, max_nodes, max_depth)
        return loader.construct_document(node)
    except _TooMany:
        raise FileRefused(f"{where} holds more than {max_nodes} values; refused") from None
    except _TooDeep:
        raise FileRefused(f"{where} is nested deeper than {max_depth} levels") from None
    except yaml.YAMLError as error:
        if "maximum nesting depth" in str(error):  # libyaml's own limit (PyYAML 6.0.4), met while scanning ahead
            raise FileRefused(f"{where} is nested deeper than {max_depth} levels") from None
        raise FileRefused(f"{where} is not valid YAML: {_one_line(error)}") from None
    finally:
        loader.dispose()


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


class _TooDeep(Exception):
    pass


class _TooMany(Exception):
    pass


@functools.cache
def _plain_loader() -> type:
    """SafeLoader without the tags that build more than plain data (nor implicit dates), stopping at ``max_depth``.

    With libyaml, its C parser (linear time; PyYAML's Python scanner is quadratic in the depth of ``[[[...``) under
    PyYAML's Python composer, which this class bounds in depth (libyaml's own composer recurses without a limit).
    """
    import yaml
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.resolver import Resolver

    try:
        from yaml._yaml import CParser
    except ImportError:  # PyYAML without libyaml: slower, as bounded
        bases: tuple[type, ...] = (yaml.SafeLoader,)
    else:
        bases = (Composer, SafeConstructor, Resolver, CParser)

    class PlainLoader(*bases):  # type: ignore[misc]
        max_depth = MAX_DEPTH
        max_nodes = YAML_MAX_NODES

        def __init__(self, text: str) -> None:
            if bases[0] is yaml.SafeLoader:
                yaml.SafeLoader.__init__(self, text)
            else:
                CParser.__init__(self, text)
                Composer.__init__(self)
                SafeConstructor.__init__(self)
                Resolver.__init__(self)
            self.depth = self.nodes = 0
            self.aliased = False

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliased = True
            else:
                self.nodes += 1
                if self.nodes > self.max_nodes:
                    raise _TooMany
            level = 1 if self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent) else 0
            self.depth += level
            try:
                if self.depth > self.max_depth:
                    raise _TooDeep
                return super().compose_node(parent, index)
            finally:
                self.depth -= level

    dropped = {f"tag:yaml.org,2002:{name}" for name in ("timestamp", "binary", "set", "omap", "pairs")}
    PlainLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in dropped]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    PlainLoader.yaml_constructors = {
        tag: constructor for tag, constructor in yaml.SafeLoader.yaml_constructors.items() if tag not in dropped
    }
    return PlainLoader


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _check_expanded_size(root: Any, where: str, max_nodes: int, max_depth: int) -> None:
    """Count the nodes of the document with each alias expanded, and its depth, from the node graph (aliases share
    nodes, so this costs the size of the file, not of the expansion); refuse a cycle (a recursive alias)."""
    import yaml

    scalar = yaml.ScalarNode
    if type(root) is scalar:
        return
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    on_path = {id(root)}
    stack: list[tuple[Any, Iterator[Any]]] = [(root, iter(_children(root)))]
    while stack:
        node, pending = stack[-1]
        child = next((child for child in pending if type(child) is not scalar and id(child) not in sizes), None)
        if child is not None:
            if id(child) in on_path:
                raise FileRefused(f"{where} holds a recursive alias (a node that contains itself); refused")
            on_path.add(id(child))
            stack.append((child, iter(_children(child))))
            continue
        stack.pop()
        on_path.discard(id(node))
        size, depth = 1, 1
        for child in _children(node):
            if type(child) is scalar:
                size += 1
            else:
                size += sizes[id(child)]
                depth = max(depth, 1 + depths[id(child)])
        sizes[id(node)], depths[id(node)] = size, depth
        if size > max_nodes:
            raise FileRefused(f"{where} expands to more than {max_nodes} values once its aliases are expanded; refused")
        if depth > max_depth:
            raise FileRefused(f"{where} is nested deeper than {max_depth} levels")
