"""``cartpole-baselines train ALGO --env ID --out DIR ...``: one training run into a run directory.

Each algorithm gets its own sub-parser whose flags are generated from its config dataclass: field ``top_b: int``
becomes ``--top-b INT``, ``bool`` fields become ``--name/--no-name``, ``Literal`` fields get choices, ``X | None``
accepts ``none``, and ``tuple[int, ...]`` takes several values. The help text is the field's ``help`` metadata or its
one-line comment in the source. The algorithm module is imported only when its sub-parser is used.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import tokenize
import types
import typing
from pathlib import Path
from typing import Any

from baselines.algorithms import ALGORITHMS, COMMON_CONFIG_FIELDS, CONTINUOUS, Algorithm
from baselines.cli_common import CliError, action_kind, env_package, resolve_env_id, seed_arg

DEVICES = ("auto", "cpu", "cuda")
OPTION_PREFIX = "option__"  # namespace attribute prefix of the generated flags


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train an algorithm into a run directory",
        description="Train until solved (or the step budget) and write config.json, metrics.csv, summary.json and "
        "the policy checkpoint into --out. Run 'train ALGO --help' for the algorithm's flags.",
    )
    algorithms = parser.add_subparsers(dest="algo", required=True, metavar="ALGO", parser_class=_AlgorithmParser)
    for algorithm in ALGORITHMS.values():
        algorithms.add_parser(algorithm.name, help=algorithm.description, algorithm=algorithm)
    parser.set_defaults(handler=run)


class _AlgorithmParser(argparse.ArgumentParser):
    """The ``train ALGO`` parser; imports the algorithm and adds its flags when first used."""

    def __init__(self, *, algorithm: Algorithm, **kwargs: Any) -> None:
        super().__init__(description=algorithm.description, **kwargs)
        self.algorithm = algorithm
        self._populated = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        self._populate()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._populate()
        return super().format_help()

    def _populate(self) -> None:
        if self._populated:
            return
        self._populated = True
        try:
            config_type = self.algorithm.config_type()
        except ImportError as error:
            self.error(
                f"{self.algorithm.name} needs {self.algorithm.module}, which failed to import ({error}); "
                "install the extra: pip install 'continuous-cartpole[baselines]'"
            )
        _add_run_flags(self, config_type)
        _add_config_flags(self, self.algorithm, config_type)
        self.set_defaults(algorithm=self.algorithm, config_type=config_type)


def _add_run_flags(parser: argparse.ArgumentParser, config_type: type) -> None:
    defaults = {field.name: field.default for field in dataclasses.fields(config_type)}
    run = parser.add_argument_group("run")
    run.add_argument("--env", required=True, metavar="ID", help="env id, also Gymnasium's module:EnvId form")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="run directory (new or empty)")
    run.add_argument("--overwrite", action="store_true", help="replace the run files in a non-empty --out")
    run.add_argument(
        "--seed",
        type=seed_arg,
        default=argparse.SUPPRESS,
        metavar="S",
        help=f"training seed (default: {defaults['seed']})",
    )
    run.add_argument(
        "--device", choices=DEVICES, default=argparse.SUPPRESS, help=f"torch device (default: {defaults['device']})"
    )
    for name, help_text in (
        ("total_steps", "env-step budget"),
        ("eval_every", "env steps between evaluations"),
        ("eval_episodes", "deterministic episodes per evaluation (>= 20)"),
    ):
        missing = defaults[name] is dataclasses.MISSING
        suffix = "" if missing else f" (default: {defaults[name]})"
        run.add_argument(
            _flag(name), type=int, required=missing, default=argparse.SUPPRESS, metavar="N", help=help_text + suffix
        )
    run.add_argument("--keep-training", action="store_true", help="train to the budget even once solved")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_config_flags(parser: argparse.ArgumentParser, algorithm: Algorithm, config_type: type) -> None:
    group = parser.add_argument_group(f"{config_type.__name__} options")
    hints = typing.get_type_hints(config_type)
    comments = _field_comments(config_type)
    for field in dataclasses.fields(config_type):
        if field.name in COMMON_CONFIG_FIELDS or not field.init:
            continue
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        help_text = field.metadata.get("help") or comments.get(field.name, "")
        if field.name in algorithm.continuous_only_options:
            help_text += " [continuous envs only]"
        if default is not dataclasses.MISSING:
            help_text += f" (default: {default})"
        group.add_argument(
            _flag(field.name),
            dest=OPTION_PREFIX + field.name,
            default=argparse.SUPPRESS,
            required=default is dataclasses.MISSING,
            help=help_text.strip(),
            **_argument_type(field.name, hints[field.name]),
        )


def _argument_type(name: str, hint: Any) -> dict[str, Any]:
    """argparse keyword arguments that parse a value of type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if hint in (int, float, str):
        return {"type": hint, "metavar": hint.__name__.upper()}
    if origin is typing.Literal:
        return {"type": type(args[0]), "choices": args}
    if origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        inner = _argument_type(name, next(arg for arg in args if arg is not type(None)))
        parse = inner.get("type", str)
        inner["type"] = lambda text: None if text.lower() == "none" else parse(text)
        inner["metavar"] = f"{inner.get('metavar', 'VALUE')}|none"
        return inner
    if origin in (tuple, list) and args and (origin is list or args[-1] is Ellipsis):
        item = args[0]
        return {"type": item, "nargs": "+", "metavar": item.__name__.upper()}
    raise TypeError(f"config field {name}: no command-line flag for type {hint!r}")


def _field_comments(config_type: type) -> dict[str, str]:
    """Each field's one-line comment: trailing (``x: int = 1  # why``) or on the line above it."""
    try:
        source = inspect.getsource(config_type)
    except (OSError, TypeError):
        return {}
    lines: dict[int, list[tokenize.TokenInfo]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        lines.setdefault(token.start[0], []).append(token)
    comments: dict[str, str] = {}
    pending = ""  # a comment alone on its line, for the field on the next line
    for number in sorted(lines):
        tokens = [token for token in lines[number] if token.type not in (tokenize.INDENT, tokenize.DEDENT)]
        kinds = [token.type for token in tokens]
        comment = next((token.string.lstrip("#").strip() for token in tokens if token.type == tokenize.COMMENT), "")
        if kinds[:1] == [tokenize.COMMENT]:
            pending = comment
            continue
        if len(tokens) >= 2 and tokens[0].type == tokenize.NAME and tokens[1].string == ":":
            comments[tokens[0].string] = comment or pending
        pending = ""
    return comments


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run(args: argparse.Namespace) -> int:
    from baselines.devices import resolve_device
    from baselines.runs import train_run

    algorithm: Algorithm = args.algorithm
    env_id = resolve_env_id(args.env)
    kind = action_kind(env_id)
    if kind not in algorithm.action_spaces:
        supported = " and ".join(sorted(algorithm.action_spaces))
        raise CliError(f"{algorithm.name} only supports {supported} action spaces; {args.env} is {kind}")
    config = _config_from_args(args, env_id, kind)
    try:
        device = resolve_device(config.device)
    except ValueError as error:
        raise CliError(str(error)) from error
    _check_env_for(algorithm, env_id)
    try:
        # The run keeps the registered id and, apart, the package to import: evaluate and render import it only
        # when the user passes --gym-package again.
        package = env_package(args.env)
        summary = train_run(
            algorithm.name,
            config,
            args.out,
            overwrite=args.overwrite,
            env_id=env_id,
            device=str(device),
            extra_config=None if package is None else {"gym_package": package},
        )
    except KeyboardInterrupt:
        print(_interrupted(args.out))
        raise
    print(_describe(summary, args.out))
    return 0


def _config_from_args(args: argparse.Namespace, env_id: str, kind: str) -> Any:
    """The algorithm's config from the flags given; unset flags keep the dataclass defaults."""
    algorithm: Algorithm = args.algorithm
    hints = typing.get_type_hints(args.config_type)
    options: dict[str, Any] = {}
    for attribute, value in vars(args).items():
        if attribute.startswith(OPTION_PREFIX):
            name = attribute.removeprefix(OPTION_PREFIX)
            if name in algorithm.continuous_only_options and kind != CONTINUOUS:
                raise CliError(f"{_flag(name)} only applies to continuous envs; {args.env} is {kind}")
            options[name] = tuple(value) if typing.get_origin(hints[name]) is tuple else value
    run_options = {name: getattr(args, name) for name in COMMON_CONFIG_FIELDS if hasattr(args, name)}
    try:
        return args.config_type(
            env_id=env_id,
            stop_when_solved=not args.keep_training,
            progress=not args.no_progress,
            **run_options,
            **options,
        )
    except (TypeError, ValueError) as error:
        raise CliError(f"invalid {algorithm.name} configuration: {error}") from error


def _check_env_for(algorithm: Algorithm, env_id: str) -> None:
    """Refuse an env the algorithm cannot train on before the run directory exists."""
    try:
        if algorithm.torch_env:
            from continuous_cartpole.torch_vector import make_torch_vector_env

            make_torch_vector_env(env_id, 1, device="cpu").close()
        check_env = getattr(algorithm.load_module(), "check_env", None)
        if check_env is not None:
            check_env(env_id)
    except ValueError as error:
        raise CliError(f"{algorithm.name} cannot train on {env_id}: {error}") from error


def _interrupted(out: Path) -> str:
    from baselines.runs import RunError, read_summary

    try:
        summary = read_summary(out)
    except RunError:  # Ctrl-C before training started
        return f"interrupted before training started; no summary in {out}"
    kept = summary["checkpoint_env_steps"]
    what = "no checkpoint yet" if kept is None else f"kept the checkpoint and metrics of env step {kept}"
    return f"interrupted at env step {summary['env_steps']}: {what} in {out}"


def _describe(summary: dict[str, Any], out: Path) -> str:
    if summary["solved_env_steps"] is None:
        outcome = f"not solved in {summary['env_steps']} env steps"
    else:
        outcome = f"solved after {summary['solved_env_steps']} env steps ({summary['solved_wall_seconds']:.1f} s)"
    return (
        f"{summary['algo']} on {summary['env_id']} (seed {summary['seed']}, {summary['device']}): {outcome}; "
        f"test of the {summary['test_checkpoint']} checkpoint on {summary['test_episodes']} held-out episodes: "
        f"{summary['test_return_mean']:.1f} ± {summary['test_return_std']:.1f} (min {summary['test_return_min']:g}); "
        f"wrote {out}"
    )
