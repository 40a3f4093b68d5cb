"""The example notebooks run top to bottom in a real Jupyter kernel, and are committed without outputs.

Each notebook runs in a fresh ``python3`` kernel (ipykernel, started by nbclient) in a temporary folder, so the runs
it writes go there; a cell that raises fails the test with the cell and its traceback.
"""

import os
from pathlib import Path

import nbformat
import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
INLINE_GIF = "data:image/gif;base64,"


def notebook_id(path: Path) -> str:
    return path.stem


def html_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        output["data"]["text/html"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "text/html" in output.get("data", {})
    ]


def test_the_lessons_are_numbered_in_reading_order_and_listed_on_the_site():
    assert len(NOTEBOOKS) >= 4
    assert [path.name[:2] for path in NOTEBOOKS] == [f"{number:02d}" for number in range(1, len(NOTEBOOKS) + 1)]
    site = (EXAMPLES.parent / "mkdocs.yml").read_text(encoding="utf-8")
    assert all(f"examples/{path.name}" in site for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_committed_notebooks_hold_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code"
    assert all(not cell.outputs and cell.execution_count is None for cell in code), f"strip the outputs of {path}"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_notebook_runs_top_to_bottom_and_shows_its_rollouts_inline(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    # the kernel imports this checkout, wherever the tests run from
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(EXAMPLES.parent), os.environ.get("PYTHONPATH")]))
    )
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one raises
    shows = sum(cell.source.count("baselines.show(") for cell in notebook.cells if cell.cell_type == "code")
    animations = [html for html in html_outputs(notebook) if html.startswith(f'<img src="{INLINE_GIF}')]
    assert shows >= 1, f"{path.name} shows no rollout"
    assert len(animations) == shows, f"{path.name}: {shows} calls of baselines.show, {len(animations)} animations"
    assert all(len(html) > 10_000 for html in animations)  # a real GIF, not an empty one
