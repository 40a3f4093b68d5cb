"""What refusing a hostile file costs: the peak memory added and the time, each case in a fresh process.

    python benchmarks/bench_hostile_files.py

Each case runs in its own interpreter with the reading code imported first, so the peak resident memory it reports
(``ru_maxrss`` after minus before) is what the read added. Also measured: files exactly at their kind's cap that
are accepted, the worst a reader then holds in memory. Prints one line per case and the CPU model.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

CASE = """
import resource, sys, time
from pathlib import Path
import baselines.bounded_read as bounded, baselines.runs as runs, baselines.compare.plan as plan
import baselines.compare.lock as lock, baselines.sb3_hyperparams as table, baselines.plotting as plotting
import yaml, csv
from baselines.compare import CompareSettings, RunSpec
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
folder = Path(sys.argv[1])
started = time.perf_counter()
try:
    result = {call}
    outcome = "accepted"
except ValueError as error:
    outcome = "refused: " + str(error)[:70]
seconds = time.perf_counter() - started
added = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(f"+{{added / 1024:6.1f}} MB (peak before {{before / 1024:.0f}} MB) {{seconds * 1000:7.1f}} ms  {{outcome}}")
"""

BILLION_LAUGHS = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
)


def prepare(folder: Path) -> dict[str, str]:
    """Write the hostile files into ``folder``; returns case name -> the call that reads it."""
    from baselines import bounded_read as bounded

    run = folder / "run"
    run.mkdir()
    (run / "config.json").symlink_to("/dev/zero")
    with open(run / "summary.json", "wb") as file:
        file.truncate(4 * 1024**3)
    os.mkfifo(run / "metrics.csv")
    (folder / "laughs.yml").write_text(BILLION_LAUGHS, encoding="utf-8")
    (folder / "deep.yml").write_text("[" * (bounded.YAML_BYTES // 2) + "]" * (bounded.YAML_BYTES // 2))
    (folder / "wide.yml").write_text("[" + "0," * (bounded.YAML_BYTES // 2 - 2) + "0]")
    (folder / "aliased.yml").write_text("a: &a 0\nb: [" + "*a," * (bounded.YAML_BYTES // 3 - 10) + "*a]")
    lock_dir = folder / "locked"
    lock_dir.mkdir()
    (lock_dir / "compare.lock").symlink_to(lock_dir / "compare.lock")  # a loop
    at_cap = folder / "at_cap"
    at_cap.mkdir()
    (at_cap / "compare.json").write_text("[" + "{}," * (bounded.COMPARE_JSON_BYTES // 3 - 1) + "{}]")
    (at_cap / "summary.json").write_text("[" + "{}," * (bounded.RUN_JSON_BYTES // 3 - 1) + "{}]")
    row = "ars,ContinuousCartPole-v0,0,123456,12.345678,123.456789\n"
    header = "algo,env_id,seed,env_steps,wall_seconds,eval_return_mean\n"
    rows = (bounded.CURVES_CSV_BYTES - len(header)) // len(row)
    (at_cap / "learning_curves.csv").write_text(header + row * rows)
    return {
        "config.json -> /dev/zero (evaluate, load_policy)": "runs.read_run_config(folder / 'run')",
        "summary.json, 4 GB sparse (plot, compare)": "runs.read_summary(folder / 'run')",
        "metrics.csv, a FIFO (plot, compare)": "bounded.read_csv(folder / 'run/metrics.csv', 100)",
        "hyperparameter YAML, billion laughs (540 bytes)": "table.from_zoo_file(folder / 'laughs.yml', 'X')",
        "hyperparameter YAML, [[[...]]] at the 256 KiB cap": "table.from_zoo_file(folder / 'deep.yml', 'X')",
        "hyperparameter YAML, 131k-item list at the cap": "table.from_zoo_file(folder / 'wide.yml', 'X')",
        "hyperparameter YAML, 87k aliases at the cap": "table.from_zoo_file(folder / 'aliased.yml', 'X')",
        "compare.lock, a symlink loop": "lock.directory_lock(folder / 'locked').__enter__()",
        "accepted: compare.json of 1.4M {} at the 4 MiB cap": "bounded.read_json(folder / 'at_cap/compare.json', "
        "bounded.COMPARE_JSON_BYTES)",
        "accepted: summary.json of 350k {} at the 1 MiB cap": "runs.read_summary(folder / 'at_cap')",
        "accepted: learning_curves.csv at the 16 MiB cap (plot's read)": "plotting._read_csv(folder / "
        "'at_cap/learning_curves.csv', ['algo'], bounded.CURVES_CSV_BYTES)",
    }


def main() -> None:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo", encoding="utf-8") as file:
        cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    print(f"CPU: {cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        cases = prepare(Path(folder))
        for name, call in cases.items():
            code = CASE.format(call=call)
            result = subprocess.run([sys.executable, "-c", code, folder], capture_output=True, text=True, timeout=300)
            line = result.stdout.strip() or json.dumps(result.stderr.strip().splitlines()[-1:])
            print(f"{name:62s} {line}")


if __name__ == "__main__":
    main()
