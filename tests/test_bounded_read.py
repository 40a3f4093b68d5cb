"""The one reader of every file the package opens: hostile files are one-line refusals, cheap in time and memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from deadline import in_thread

from baselines.bounded_read import (
    MAX_DEPTH,
    YAML_MAX_NODES,
    FileRefused,
    open_checked,
    read_bytes,
    read_csv,
    read_json,
    read_text,
    read_yaml,
)

BILLION_LAUGHS = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
)


def refusal(read, *args, **kwargs) -> str:
    """The message of the refusal, from a thread: a read that blocks fails the test instead of hanging it."""
    outcome = in_thread(read, *args, timeout=20, **kwargs)
    assert isinstance(outcome, FileRefused), outcome
    message = str(outcome)
    assert "\n" not in message
    return message


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text('{"a": [1, 2.5, null]}', encoding="utf-8")
    assert read_json(path, 100) == {"a": [1, 2.5, None]}
    assert read_bytes(path, 21) == path.read_bytes()  # exactly at the cap is fine


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    os.mkfifo(path)
    assert "is not a regular file (a FIFO)" in refusal(read_json, path, 1024, "run config")


def test_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.symlink_to("/dev/zero")
    assert "is not a regular file (a character device)" in refusal(read_text, path, 1024)


def test_a_huge_sparse_file_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    with open(path, "wb") as file:
        file.truncate(4 * 1024**3)  # 4 GB of holes: no disk, but 4 GB of memory if read
    assert f"weighs {4 * 1024**3} bytes, over the 1024-byte cap" in refusal(read_csv, path, 1024, "metrics")


def test_one_byte_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    assert "over the 10-byte cap" in refusal(read_bytes, path, 10)


@pytest.mark.parametrize("kind", ["folder", "missing", "dangling", "loop"])
def test_folders_missing_files_and_broken_links_are_refused(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "compare.json"
    if kind == "folder":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(tmp_path / "nowhere")
    elif kind == "loop":
        path.symlink_to(tmp_path / "other")
        (tmp_path / "other").symlink_to(path)
    expected = {
        "folder": "is not a regular file (a folder)",
        "missing": "does not exist",
        "dangling": "does not exist (a symbolic link to nothing)",
        "loop": "cannot be opened: Too many levels of symbolic links",
    }[kind]
    assert expected in refusal(read_bytes, path, 100)


def test_without_following_symlinks_a_link_to_a_regular_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("123\n", encoding="utf-8")
    link = tmp_path / "compare.lock"
    link.symlink_to(target)
    assert read_text(link, 64) == "123\n"
    assert "is a symbolic link; refused" in refusal(read_text, link, 64, follow_symlinks=False)
    with pytest.raises(FileRefused, match="is a symbolic link"):
        open_checked(link, 64, "lock", flags=os.O_RDWR | os.O_CREAT)
    assert target.read_text(encoding="utf-8") == "123\n"


def test_json_nesting_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), encoding="utf-8")
    assert f"nested deeper than {MAX_DEPTH} levels" in refusal(read_json, path, 1 << 20)
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")  # Python's parser would recurse
    assert "nested deeper" in refusal(read_json, path, 1 << 20)
    path.write_text("[" * MAX_DEPTH + "]" * MAX_DEPTH, encoding="utf-8")
    assert read_json(path, 1 << 20) is not None


def test_invalid_json_and_utf8_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text('{"a": ', encoding="utf-8")
    assert "is not valid JSON" in refusal(read_json, path, 100)
    path.write_bytes(b'"\xff"')
    assert "is not UTF-8 text" in refusal(read_json, path, 100)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_as_not_json(constant: str, tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(f'{{"eval_return_mean": {constant}}}', encoding="utf-8")
    assert f"summary.json holds {constant}, which is not a JSON number" in refusal(read_json, path, 100)


def test_billion_laughs_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert len(BILLION_LAUGHS) < 600  # 10**9 strings once expanded
    assert f"expands to more than {YAML_MAX_NODES} values" in refusal(read_yaml, path)


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text("a: &a [1, *a]\n", encoding="utf-8")
    assert "recursive alias" in refusal(read_yaml, path)


def test_yaml_values_are_bounded_in_number_and_aliases_in_depth(tmp_path: Path) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text("[" + "0," * YAML_MAX_NODES + "0]", encoding="utf-8")  # within the size cap
    assert f"holds more than {YAML_MAX_NODES} values" in refusal(read_yaml, path)
    anchors = ["a0: &a0 [[1]]"] + [f"a{i}: &a{i} [[*a{i - 1}]]" for i in range(1, MAX_DEPTH // 2 + 1)]
    path.write_text("\n".join(anchors), encoding="utf-8")  # each level 2 deep as written, 34 deep expanded
    assert f"nested deeper than {MAX_DEPTH} levels" in refusal(read_yaml, path)


def test_yaml_nesting_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), encoding="utf-8")
    assert "nested deeper" in refusal(read_yaml, path)
    path.write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")  # the composer recurses per level
    assert "nested deeper" in refusal(read_yaml, path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: !!set {1, 2}", "could not determine a constructor"),
        ("a: !!binary aGVsbG8=", "could not determine a constructor"),
        ("a: !!python/object:os.system {}", "could not determine a constructor"),
        ("{[1]: 2}", "unhashable"),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
        ("a: [1, 2", "is not valid YAML"),
    ],
)
def test_yaml_beyond_plain_data_is_refused(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text(text, encoding="utf-8")
    assert problem in refusal(read_yaml, path)


def test_yaml_plain_data_is_read_with_its_types_and_dates_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "ppo.yml"
    path.write_text(
        "CartPole-v1:\n  n_envs: 8\n  gamma: 0.98\n  learning_rate: lin_0.001\n  normalize: false\n"
        "  policy_kwargs: dict(net_arch=[64, 64])\n  note: 2001-12-14\n  shared: &s [1, 2]\n  again: *s\n",
        encoding="utf-8",
    )
    entry = read_yaml(path)["CartPole-v1"]
    assert entry == {
        "n_envs": 8,
        "gamma": 0.98,
        "learning_rate": "lin_0.001",
        "normalize": False,
        "policy_kwargs": "dict(net_arch=[64, 64])",
        "note": "2001-12-14",
        "shared": [1, 2],
        "again": [1, 2],
    }
    (tmp_path / "empty.yml").write_text("", encoding="utf-8")
    assert read_yaml(tmp_path / "empty.yml") is None


def test_csv_rows_come_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("a,b\n1,2\n3\n", encoding="utf-8")
    reader = read_csv(path, 100)
    assert reader.fieldnames == ["a", "b"]
    rows = [(reader.line_num, row) for row in reader]
    assert rows == [(2, {"a": "1", "b": "2"}), (3, {"a": "3", "b": None})]
