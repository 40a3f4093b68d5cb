"""A griffe extension for the API reference: doctest examples (``>>>`` lines and the output after them) in our
Markdown docstrings become ``pycon`` code blocks, which Markdown would otherwise read as nested quotes."""

from __future__ import annotations

from typing import Any

from griffe import Extension, Object


def fence_doctests(text: str) -> str:
    """Wrap every run of ``>>>``/``...`` lines and their output (up to a blank line) in a ```pycon fence."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block = []
        while index < len(lines) and lines[index].strip():
            block.append(lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index].lstrip())
            index += 1
        out.extend([f"{indent}```pycon", *(f"{indent}{entry}" for entry in block), f"{indent}```"])
    return "\n".join(out)


class DoctestFences(Extension):
    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
