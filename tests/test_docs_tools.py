"""The documentation's build tools: doctest fences for the API reference, and the CLI reference from --help."""

import importlib.util
from pathlib import Path

TOOLS = Path(__file__).parent.parent / "docs" / "tools"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doctest_examples_become_pycon_blocks_and_other_text_stays():
    fence = load("griffe_doctests").fence_doctests
    text = "Intro.\n\n    >>> x = 1\n    >>> x\n    1\n\nAfter.\n>>> y\n2"
    assert fence(text) == (
        "Intro.\n\n    ```pycon\n    >>> x = 1\n    >>> x\n    1\n    ```\n\nAfter.\n```pycon\n>>> y\n2\n```"
    )
    assert fence("no examples\n\n| a | b |") == "no examples\n\n| a | b |"


def test_the_cli_reference_is_the_help_of_every_command_and_algorithm():
    from baselines.algorithms import ALGORITHMS
    from baselines.cli import SUBCOMMANDS

    cli_reference = load("cli_reference")
    page = cli_reference.on_page_markdown(f"# Command line\n\n{cli_reference.MARKER}\n", page=None)
    assert cli_reference.MARKER not in page
    assert {"train", "evaluate", "compare", "plot", "render", "play"} <= {module.NAME for module in SUBCOMMANDS}
    for module in SUBCOMMANDS:
        assert f"## `cartpole-baselines {module.NAME}`" in page
    for name in ALGORITHMS:
        assert f"## `cartpole-baselines train {name}`" in page
    assert "--n-directions" in page and "usage: cartpole-baselines render" in page
    assert all(line == line.rstrip() for line in page.splitlines())
    assert cli_reference.on_page_markdown("no marker", page=None) == "no marker"


def test_the_two_balance_env_pages_describe_the_shared_rules_identically():
    """Each env page is whole on its own (readable on GitHub too), so the sections both envs share are written
    twice: they must not drift apart."""
    pages = [TOOLS.parent / "environments" / name for name in ("continuous.md", "discrete.md")]
    shared = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        shared.append(text[text.index("\n## Observation\n") : text.index("\n## Version history\n")])
    assert shared[0] == shared[1]
    for section in ("## Reward", "## Starting state", "## Episode end", "## Dynamics", "## Parameters"):
        assert f"\n{section}\n" in shared[0]
