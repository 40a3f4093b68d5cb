"""MkDocs hook: the command-line reference page is the CLI's own ``--help``, run when the site is built.

``cli.md`` holds the marker ``<!-- cli-help -->``; it is replaced by the help of ``cartpole-baselines``, of every
subcommand and of ``train ALGO`` for every registered algorithm, each as a text block. Nothing is copied by hand, so
the page cannot drift from the code.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

MARKER = "<!-- cli-help -->"
WIDTH = "100"  # columns of the help text: what the page's code blocks show without scrolling much


def cli_help(*argv: str) -> str:
    from baselines.cli import main

    buffer = io.StringIO()
    old_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = main([*argv, "--help"])
    finally:
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    if code != 0:
        raise RuntimeError(f"cartpole-baselines {' '.join(argv)} --help exited with {code}: {buffer.getvalue()}")
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip().splitlines())


def reference() -> str:
    from baselines.algorithms import ALGORITHMS
    from baselines.cli import SUBCOMMANDS

    sections = [("cartpole-baselines", ())]
    for module in SUBCOMMANDS:
        sections.append((f"cartpole-baselines {module.NAME}", (module.NAME,)))
        if module.NAME == "train":
            sections += [(f"cartpole-baselines train {name}", ("train", name)) for name in ALGORITHMS]
    return "\n\n".join(f"## `{title}`\n\n```text\n{cli_help(*argv)}\n```" for title, argv in sections)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())
