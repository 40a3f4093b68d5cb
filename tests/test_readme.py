"""Every shell command of the documentation runs as written, in order, in a fresh copy of the repository.

The commands are the lines of the ```bash blocks of ``DOC_FILES``, in order. A few are not run here, each for the
reason written in ``SKIPPED`` (and each is covered elsewhere, as written there); a few too slow for CI run with
the arguments in ``FASTER`` appended, which only shrink budgets. To point the test at other pages (the docs site),
change ``DOC_FILES``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The front page, then the docs site's pages in the order of its navigation (mkdocs.yml). Left out:
# docs/getting-started.md repeats the README's set-up commands, which have run by then (a second `train --out runs/ars`
# would meet the first run's directory), and CI builds the site with `mkdocs build --strict` itself.
DOC_FILES = [
    ROOT / "README.md",
    *(
        ROOT / "docs" / page
        for page in (
            "baselines.md",
            "results.md",
            "robustness.md",
            "cluster.md",
            "run-directories.md",
            "contributing.md",
        )
    ),
]

SKIPPED = {
    r"^pip install ": "changes the Python environment: .ci/run installs the package, and installs its wheel into "
    "fresh virtual environments for a smoke test (.ci/smoke_wheel.py)",
    r"python -m pytest": "the test suite itself",
    r"^ray start |compare --ray ": "binds Ray to the machine's network address: tests/test_ray.py walks the same steps "
    "on loopback (test_readme_cluster_steps_work_after_ray_local_wrote_a_token)",
    r" play ": "opens a window for the keyboard (tests/test_rendering.py covers the renderer)",
    r" --human": "opens a window (tests/test_rendering.py covers the renderer)",
    r"^tensorboard ": "a server that runs until it is stopped",
    r"compare --out results/swingup ": "40 swing-up runs take hours on 2 cores: tests/test_compare.py "
    "(test_a_swingup_run_trains_with_our_swingup_settings) runs one as compare's worker does, with a small budget",
}
FASTER = {  # command pattern -> arguments appended, and why
    r"compare --quick ": (
        ["--algos", "ars", "--seeds", "1"],
        "the quick matrix takes minutes on 2 cores; one algorithm and seed run the same code path",
    ),
    r"train ppo ": (["--total-steps", "4000"], "PPO takes about a minute to solve under load; 4000 steps show the run"),
    r"train ars --env ContinuousCartPoleSwingUp-v0 ": (
        ["--total-steps", "2000", "--eval-every", "2000"],
        "150M swing-up steps take minutes to an hour; a short run shows the same flags work",
    ),
}
TIMEOUT_S = 300  # per command: a hang fails the test instead of the CI


def doc_commands(paths: list[Path]) -> list[tuple[str, str]]:
    """(``file:line``, command) for every line of every ```bash block; ``\\`` continuations joined."""
    commands = []
    for path in paths:
        in_block, pending, start = False, "", 0
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                in_block = line.strip() == "```bash"
                continue
            if not in_block or not (pending or line.strip()):
                continue
            start = start if pending else number
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1].strip() + " "
                continue
            commands.append((f"{path.name}:{start}", (pending + line.strip()).strip()))
            pending = ""
    return commands


def match(table: dict, command: str) -> object:
    return next((value for pattern, value in table.items() if re.search(pattern, command)), None)


def copy_of_the_repository(target: Path) -> Path:
    """The repository's tracked files (as a fresh clone has them), or its tree without build outputs."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        files = [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):
        files = [
            str(path.relative_to(ROOT))
            for path in ROOT.rglob("*")
            if path.is_file() and not {".git", "build", "dist", "__pycache__"} & set(path.parts)
        ]
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


def test_the_commands_are_found_and_each_skip_and_shortcut_is_used() -> None:
    commands = [command for _, command in doc_commands(DOC_FILES)]
    assert any(command.startswith("cartpole-baselines train ") for command in commands)
    for table in (SKIPPED, FASTER):  # a pattern no command matches any more is a stale exception
        for pattern in table:
            assert any(re.search(pattern, command) for command in commands), f"no command matches {pattern!r}"


def test_every_documented_command_runs_in_order(tmp_path: Path) -> None:
    workdir = copy_of_the_repository(tmp_path / "repo")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "MPLBACKEND": "Agg"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    ran = 0
    for where, command in doc_commands(DOC_FILES):
        if match(SKIPPED, command):
            continue
        extra, _ = match(FASTER, command) or ([], "")
        line = f"{command.split(' #')[0].rstrip()} {' '.join(extra)}".strip() if extra else command
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert result.returncode == 0, f"{where}: `{line}` exited {result.returncode}:\n{result.stderr[-3000:]}"
        ran += 1
    assert ran >= 5, f"only {ran} commands ran"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```bash\na --x  # note\n\nb \\\n  c\n```\n```python\nd\n```\n", ["a --x  # note", "b c"]),
        ("```\nnot bash\n```\n", []),
    ],
)
def test_doc_commands_reads_bash_blocks_only(tmp_path: Path, text: str, expected: list[str]) -> None:
    (tmp_path / "page.md").write_text(text, encoding="utf-8")
    assert [command for _, command in doc_commands([tmp_path / "page.md"])] == expected
