"""``cartpole-baselines train ALGO --env ID --out DIR ...``: one training run into a run directory.

tyro builds ``train ALGO``'s flags from the algorithm's config dataclass (``baselines.configs``): field ``top_b``
becomes ``--top-b``, its comment the help text, ``bool`` fields ``--name/--no-name``, ``X | None`` accepts
``None``. ``command_line_view`` changes what the command line shows differently from Python: ``env_id`` is
``--env``, ``stop_when_solved`` is ``--keep-training``, the progress bar is on, and SB3 algorithms also take
``--hyperparams-file`` (rl-baselines3-zoo's YAML) and, where they train on several envs, ``--n-envs``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, Union

import tyro
from tyro.conf import arg
from tyro.constructors import ConstructorRegistry, StructConstructorSpec, StructFieldSpec, StructTypeInfo

from baselines.algorithms import ALGORITHMS, CONTINUOUS, Algorithm
from baselines.cli.common import (
    CliError,
    Directory,
    RandomizeFlags,
    Seed,
    action_kind,
    env_package,
    resolve_env_id,
)
from baselines.configs import randomize_kwargs

NAME = "train"
HELP = (
    "train an algorithm until solved (or the step budget) and write config.json, metrics.csv, summary.json and the "
    "policy checkpoints into --out; 'train ALGO --help' lists the algorithm's flags"
)
ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True)
class TrainRun(Generic[ConfigT]):
    """One algorithm's ``train`` command: its config's fields, flattened, and where the run goes."""

    config: Annotated[ConfigT, arg(name="")]
    out: Directory  # run directory (new or empty)
    overwrite: bool = False  # replace the run files in a non-empty --out
    tensorboard_log: Annotated[Path | None, arg(metavar="DIR")] = None
    """also write the curves and training statistics as TensorBoard scalars, one run per DIR/ALGO/ENV/seedS"""

    def run(self) -> int:
        from baselines.devices import resolve_device
        from baselines.runs import train_run

        algorithm = algorithm_of(self.config)
        env_id = resolve_env_id(self.config.env_id)
        try:
            device = resolve_device(self.config.device)
        except ValueError as error:
            raise CliError(str(error)) from error
        _check_env_for(algorithm, env_id, randomize_kwargs(self.config))
        # The run keeps the registered id and, apart, the package to import: evaluate and render import it only
        # when the user passes --gym-package again.
        package = env_package(self.config.env_id)
        try:
            summary = train_run(
                algorithm.name,
                dataclasses.replace(self.config, env_id=env_id),
                self.out,
                overwrite=self.overwrite,
                env_id=env_id,
                device=str(device),
                extra_config=None if package is None else {"gym_package": package},
                tensorboard_log=self.tensorboard_log,
            )
        except KeyboardInterrupt:
            print(_interrupted(self.out))
            raise
        print(_describe(summary, self.out))
        return 0


def command_type() -> type:
    """``train`` with one subcommand per registered algorithm."""
    algorithms = tuple(
        Annotated[
            TrainRun[algorithm.config_type()], tyro.conf.subcommand(algorithm.name, description=algorithm.description)
        ]
        for algorithm in ALGORITHMS.values()
    )
    algo = Annotated[Union[algorithms], arg(name="")]  # noqa: UP007  (built at run time from a tuple)
    return dataclasses.make_dataclass(
        "Train", [("algo", algo)], frozen=True, namespace={"run": lambda self: self.algo.run()}
    )


def algorithm_of(config: Any) -> Algorithm:
    return next(algorithm for algorithm in ALGORITHMS.values() if algorithm.config_type() is type(config))


# ---- what the command line shows differently from the config dataclass ----

registry = ConstructorRegistry()
_expanding: set[type] = set()  # config types whose plain dataclass view tyro is building


@registry.struct_rule
def command_line_view(info: StructTypeInfo) -> StructConstructorSpec | None:
    algorithm = next((a for a in ALGORITHMS.values() if a.config_type() is info.type), None)
    if algorithm is None or info.type in _expanding:
        return None
    _expanding.add(info.type)
    try:
        plain = ConstructorRegistry.get_struct_spec(info)
    finally:
        _expanding.discard(info.type)
    if not isinstance(plain, StructConstructorSpec):
        return None
    # ``hyperparams_base`` follows from the flags: SB3's defaults under a --hyperparams-file, as in rl-baselines3-zoo
    fields = [
        _command_line_field(spec, info.type, algorithm) for spec in plain.fields if spec.name != "hyperparams_base"
    ]
    if hasattr(info.type, "ALGO"):  # a Stable-Baselines3 config
        fields += _sb3_fields(info.type.ALGO)

    def instantiate(**values: Any) -> Any:
        resolve_env_id(values["env_id"])  # an unknown id or module is named before any config checks it
        values["stop_when_solved"] = not values.pop("keep_training")
        if hasattr(info.type, "ALGO"):
            values = _apply_sb3_fields(info.type, values)
        try:
            config = plain.instantiate(**values)
        except (TypeError, ValueError) as error:
            raise CliError(f"invalid {algorithm.name} configuration: {error}") from error
        _check_continuous_only(algorithm, config)
        return config

    return StructConstructorSpec(instantiate=instantiate, fields=tuple(fields))


def _command_line_field(spec: StructFieldSpec, config_type: type, algorithm: Algorithm) -> StructFieldSpec:
    if spec.name == "env_id":
        kind = Annotated[str, arg(name="env", metavar="ID")]
        return StructFieldSpec("env_id", kind, spec.default, "env id, also Gymnasium's module:EnvId form")
    if spec.name == "seed":
        return dataclasses.replace(spec, type=Seed)
    if spec.name == "stop_when_solved":
        return StructFieldSpec("keep_training", bool, False, "train to the budget even once solved")
    if spec.name == "progress":
        return dataclasses.replace(spec, default=True)
    if spec.name == "randomize":  # repeated flags, one parameter each
        help_text = (
            "draw this physical parameter anew for every training episode, log-uniformly for masses, length, force "
            "and tau, else uniformly (NAME=LOW:HIGH:uniform to choose); evaluations use the nominal physics; "
            "e.g. --randomize length=0.25:1.0 --randomize masspole=0.05:0.5"
        )
        return StructFieldSpec("randomize", RandomizeFlags, spec.default, help_text)
    if spec.name == "hyperparams":
        help_text = (
            "JSON object of SB3 constructor arguments (and the zoo's n_envs, noise_type, noise_std) on top of the "
            "table's (baselines/sb3_hyperparams.py) or of the --hyperparams-file entry's, "
            f"e.g. '{config_type.HYPERPARAMS_EXAMPLE}'"
        )
        return dataclasses.replace(spec, type=str, helptext=help_text)
    if spec.name in algorithm.continuous_only_options:
        return dataclasses.replace(spec, helptext=lambda: f"{_help_text(spec)} [continuous envs only]")
    if spec.name == "total_steps" and hasattr(config_type, "ALGO"):
        hint = f"(default: the file's n_timesteps, else {spec.default})"
        kind = Annotated[int | None, arg(metavar="N", help_behavior_hint=hint)]
        return StructFieldSpec("total_steps", kind, None, "env-step budget")
    return spec


def _help_text(spec: StructFieldSpec) -> str:
    """The field's help as tyro found it (its comment or docstring; tyro reads those lazily)."""
    return (spec.helptext() if callable(spec.helptext) else spec.helptext) or ""


def _sb3_fields(algo: str) -> list[StructFieldSpec]:
    from baselines import sb3_hyperparams as table

    fields = [
        StructFieldSpec(
            "hyperparams_file",
            Annotated[Path | None, arg(metavar="FILE.yml")],
            None,
            f"rl-baselines3-zoo hyperparameter file ({algo}.yml): the entry for --env (else its default entry) over "
            "SB3's defaults, as in the zoo; under --hyperparams",
        )
    ]
    if table.uses_several_envs(algo):
        fields.append(
            StructFieldSpec(
                "n_envs",
                Annotated[int | None, arg(metavar="N")],
                None,
                "training envs (SB3's vectorised env), over the file and --hyperparams",
            )
        )
    return fields


def _apply_sb3_fields(config_type: type, values: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters: ``--hyperparams-file``'s entry over SB3's defaults (as in rl-baselines3-zoo), else the
    table; ``--hyperparams`` on top, then ``--n-envs``. The budget from the file's ``n_timesteps``."""
    from baselines import sb3_hyperparams as table
    from baselines.sb3_validation import parse_hyperparams

    path, n_envs = values.pop("hyperparams_file"), values.pop("n_envs", None)
    overrides: dict[str, Any] = {}
    budget = None
    if path is not None:
        try:
            overrides, budget = table.from_zoo_file(path, resolve_env_id(values["env_id"]), values["env_id"])
        except ValueError as error:
            raise CliError(f"--hyperparams-file {path}: {error}") from error
    try:
        overrides = table.layered(overrides, parse_hyperparams(values["hyperparams"]))
    except ValueError as error:
        raise CliError(f"--{error}") from error
    if n_envs is not None:
        overrides["n_envs"] = n_envs
    values["hyperparams"] = overrides
    values["hyperparams_base"] = "table" if path is None else "sb3"
    if values["total_steps"] is None:
        default = next(field.default for field in dataclasses.fields(config_type) if field.name == "total_steps")
        values["total_steps"] = budget if budget is not None else default
    return values


def _check_continuous_only(algorithm: Algorithm, config: Any) -> None:
    """Options that change only continuous policies are refused on a discrete env rather than ignored."""
    changed = [
        field.name
        for field in dataclasses.fields(config)
        if field.name in algorithm.continuous_only_options and getattr(config, field.name) != field.default
    ]
    if not changed:
        return
    kind = action_kind(resolve_env_id(config.env_id))
    if kind != CONTINUOUS:
        flags = ", ".join("--" + name.replace("_", "-") for name in changed)
        raise CliError(f"{flags} only applies to continuous envs; {config.env_id} is {kind}")


def _check_env_for(algorithm: Algorithm, env_id: str, env_kwargs: dict[str, Any]) -> None:
    """Refuse an env the algorithm cannot train on (``env_kwargs``: the run's ``randomize``) before the run directory
    exists."""
    kind = action_kind(resolve_env_id(env_id))
    if kind not in algorithm.action_spaces:
        supported = " and ".join(sorted(algorithm.action_spaces))
        raise CliError(f"{algorithm.name} only supports {supported} action spaces; {env_id} is {kind}")
    try:
        if algorithm.torch_env:
            from continuous_cartpole.torch_vector import make_torch_vector_env

            make_torch_vector_env(resolve_env_id(env_id), 1, device="cpu", **env_kwargs).close()
        elif env_kwargs:
            import gymnasium as gym

            gym.make(resolve_env_id(env_id), **env_kwargs).close()
        check_env = getattr(algorithm.load_module(), "check_env", None)
        if check_env is not None:
            check_env(resolve_env_id(env_id))
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
