"""One validation of Stable-Baselines3 hyperparameters, whatever their source: the ``--hyperparams`` JSON, a
``--hyperparams-file`` entry, or a config built from Python (``PPOConfig(hyperparams={...})``).

Every key must be an argument of the SB3 constructor (read from its signature, so a new SB3 version cannot pass
unchecked keys) or one of the zoo's conventions (``n_envs``, ``noise_type``, ``noise_std``), and have a rule here:
its type and range. Keys of the signature without a rule (buffer classes, an action-noise object) cannot be written
as JSON and are refused. Sizes that set memory (envs, buffers, networks, batches, ARS's directions) are checked
against ``baselines.budget.MEMORY_BUDGET_BYTES``. So everything is refused with one line before a run directory
exists, instead of a traceback, a hang or a silent wrong run inside SB3.

This module depends on neither the configs nor the training code (``baselines.configs`` depends on it). It reads
the constructors' signatures from SB3's source, and imports SB3 (and so torch, seconds) only to check
``policy_kwargs`` against the policy's signature: a refused value costs about a second, not an import of torch.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import itertools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baselines import sb3_hyperparams as table
from baselines.algorithms import CONTINUOUS
from baselines.bounded_read import PYTHON_SOURCE_BYTES, read_text
from baselines.budget import MAX_LOG_STD, SB3_ENV_BYTES, check_memory
from baselines.suggestions import did_you_mean

# Where each algorithm's class lives: package, source file in it, class. Its constructor's signature is read from
# the source (importing SB3 imports torch: seconds, for a refusal); the class is imported only for its policies.
ALGORITHM_CLASS_PATHS = {
    "ppo": ("stable_baselines3", "ppo/ppo.py", "PPO"),
    "a2c": ("stable_baselines3", "a2c/a2c.py", "A2C"),
    "dqn": ("stable_baselines3", "dqn/dqn.py", "DQN"),
    "sac": ("stable_baselines3", "sac/sac.py", "SAC"),
    "td3": ("stable_baselines3", "td3/td3.py", "TD3"),
    "sb3-ars": ("sb3_contrib", "ars/ars.py", "ARS"),
}
# Policies for vector observations (``CnnPolicy`` and ``MultiInputPolicy`` need image or dict observations).
POLICIES = {"sb3-ars": ("LinearPolicy", "MlpPolicy")}
DEFAULT_POLICIES = ("MlpPolicy",)
# Keys of the table that are zoo conventions, not constructor arguments (see baselines.sb3_hyperparams).
ZOO_KEYS = frozenset({"n_envs", "noise_type", "noise_std"})
# Constructor arguments the run sets itself.
RUN_KEYS = frozenset({"self", "env", "seed", "device", "verbose", "tensorboard_log", "_init_setup_model"})
# Keys the run sets from its own flags (``train`` and ``compare``), which hyperparams cannot set.
RUN_FLAGS = {
    "env": "--env",
    "seed": "--seed",
    "device": "--device",
    "tensorboard_log": "--tensorboard-log",
    "n_timesteps": "--total-steps",  # the zoo's budget key
}
NOT_AS_TEXT = {
    "action_noise": "use noise_type and noise_std",
    "rollout_buffer_class": "the default buffer is the only one here",
    "rollout_buffer_kwargs": "the default buffer is the only one here",
    "replay_buffer_class": "the default buffer is the only one here",
    "replay_buffer_kwargs": "the default buffer is the only one here",
}
LINEAR_PREFIX = "lin_"
NOISE_TYPES = ("normal", "ornstein-uhlenbeck")
ACTIVATION_NAMES = ("relu", "tanh", "elu", "leaky_relu", "gelu", "silu")  # baselines.sb3 maps them to torch
MAX_DEPTH = 6  # nesting of a hyperparameter value: policy_kwargs -> net_arch -> pi -> width is 4
MAX_COUNT = 2**31 - 1  # SB3 indexes buffers and counts steps with NumPy's default integers


@dataclass(frozen=True)
class Rule:
    """What a value must be: ``description`` finishes "must be ..."."""

    description: str
    accepts: Callable[[Any], bool]

    def __or__(self, other: Rule) -> Rule:
        return Rule(f"{self.description} or {other.description}", lambda v: self.accepts(v) or other.accepts(v))


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(low: int, high: int = MAX_COUNT) -> Rule:
    return Rule(
        f"an integer in [{low}, {high}]",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high,
    )


def real(low: float, high: float = math.inf) -> Rule:
    shown = "" if high == math.inf else f", {high:g}]"
    where = f"in [{low:g}{shown}" if shown else f">= {low:g}"
    return Rule(f"a finite number {where}", lambda v: _real(v) and low <= v <= high)


def one_of(*values: Any) -> Rule:
    return Rule(" or ".join(json.dumps(value) for value in values), lambda v: any(v is x or v == x for x in values))


def _linear_start(value: Any) -> float | None:
    """X of the zoo's ``"lin_X"`` schedule, or None."""
    if not isinstance(value, str) or not value.startswith(LINEAR_PREFIX):
        return None
    try:
        return float(value.removeprefix(LINEAR_PREFIX))
    except ValueError:
        return None


def linear(rule: Rule) -> Rule:
    """The zoo's ``"lin_X"``: X at the start, falling linearly to 0."""
    return Rule(f'"lin_X" with X {rule.description}', lambda v: rule.accepts(_linear_start(v)))


BOOLEAN = Rule("true or false", lambda v: isinstance(v, bool))
NULL = Rule("null", lambda v: v is None)
POSITIVE = Rule("a positive finite number", lambda v: _real(v) and v > 0)
NON_NEGATIVE = real(0)
FRACTION = real(0, 1)
FREQUENCY = integer(1) | Rule(
    '[N, "step" or "episode"] with N >= 1',
    lambda v: isinstance(v, list) and len(v) == 2 and integer(1).accepts(v[0]) and v[1] in ("step", "episode"),
)

RULES: dict[str, Rule] = {
    "learning_rate": POSITIVE | linear(POSITIVE),
    "n_steps": integer(1),
    "batch_size": integer(1),
    "n_epochs": integer(1, 1000),
    "gamma": FRACTION,
    "gae_lambda": FRACTION,
    "clip_range": POSITIVE | linear(POSITIVE),
    "clip_range_vf": NULL | POSITIVE | linear(POSITIVE),
    "normalize_advantage": BOOLEAN,
    "ent_coef": NON_NEGATIVE,
    "vf_coef": NON_NEGATIVE,
    "max_grad_norm": POSITIVE,
    "use_sde": BOOLEAN,
    "sde_sample_freq": integer(-1),
    "target_kl": NULL | POSITIVE,
    "stats_window_size": integer(1, 1_000_000),
    "rms_prop_eps": POSITIVE,
    "use_rms_prop": BOOLEAN,
    "buffer_size": integer(1),
    "learning_starts": integer(0),
    "tau": FRACTION,
    "train_freq": FREQUENCY,
    "gradient_steps": integer(1, 10_000) | one_of(-1),
    "optimize_memory_usage": Rule(
        "false (SB3's memory optimisation refuses time-limit truncation, which every env here has)",
        lambda v: v is False,
    ),
    "target_update_interval": integer(1),
    "exploration_fraction": FRACTION,
    "exploration_initial_eps": FRACTION,
    "exploration_final_eps": FRACTION,
    "target_entropy": one_of("auto") | real(-1e6, 1e6),
    "use_sde_at_warmup": BOOLEAN,
    "policy_delay": integer(1),
    "target_policy_noise": NON_NEGATIVE,
    "target_noise_clip": NON_NEGATIVE,
    "n_delta": integer(1),
    "n_top": NULL | integer(1),
    "delta_std": POSITIVE | linear(POSITIVE),
    "zero_policy": BOOLEAN,
    "alive_bonus_offset": real(-1e6, 1e6),
    "n_eval_episodes": integer(1, 1000),
    "n_envs": integer(1),
    "noise_type": NULL | one_of(*NOISE_TYPES),
    "noise_std": POSITIVE,
}
# SAC's entropy coefficient may also be learned: "auto", or "auto_X" starting from X.
SAC_ENT_COEF = (
    one_of("auto")
    | Rule('"auto_X" with X a positive number', lambda v: isinstance(v, str) and _auto_start(v) is not None)
    | NON_NEGATIVE
)
POLICY_KWARGS_RULES: dict[str, Rule] = {
    "activation_fn": one_of(*ACTIVATION_NAMES),
    "ortho_init": BOOLEAN,
    "log_std_init": real(-MAX_LOG_STD, MAX_LOG_STD),
    "full_std": BOOLEAN,
    "use_expln": BOOLEAN,
    "squash_output": BOOLEAN,
    "share_features_extractor": BOOLEAN,
    "n_critics": integer(1, 10),
    "with_bias": BOOLEAN,
}
NET_ARCH_KEYS = ("pi", "vf", "qf")
NET_ARCH_DICT_KEYS = {"ppo": ("pi", "vf"), "a2c": ("pi", "vf"), "sac": ("pi", "qf"), "td3": ("pi", "qf")}
MAX_WIDTH = 2**20


def _auto_start(value: str) -> float | None:
    head, _, start = value.partition("_")
    try:
        number = float(start)
    except ValueError:
        return None
    return number if head == "auto" and math.isfinite(number) and number > 0 else None


def algorithm_class(algo: str) -> Any:
    package, _, name = ALGORITHM_CLASS_PATHS[algo]
    return getattr(importlib.import_module(package), name)


@functools.cache
def constructor_defaults(algo: str) -> dict[str, Any]:
    """Argument name -> default of the algorithm's constructor (``REQUIRED`` for none, ``NOT_LITERAL`` for a default
    that is not a literal), without the run's own arguments. Read from the class's source without importing it;
    from the imported class when the source is not where or what ``ALGORITHM_CLASS_PATHS`` says."""
    package, file, name = ALGORITHM_CLASS_PATHS[algo]
    try:
        spec = importlib.util.find_spec(package)  # a top-level package: located, not imported
        root = Path(next(iter(spec.submodule_search_locations or ())))  # type: ignore[union-attr]
        tree = ast.parse(read_text(root / file, PYTHON_SOURCE_BYTES, "Stable-Baselines3 source"))  # or FileRefused
        init = next(
            node
            for cls in tree.body
            if isinstance(cls, ast.ClassDef) and cls.name == name
            for node in cls.body
            if isinstance(node, ast.FunctionDef) and node.name == "__init__"
        )
    except (AttributeError, ImportError, OSError, StopIteration, SyntaxError, ValueError):
        parameters = inspect.signature(algorithm_class(algo).__init__).parameters.values()
        return {p.name: REQUIRED if p.default is p.empty else p.default for p in parameters if p.name not in RUN_KEYS}
    positional = init.args.posonlyargs + init.args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(init.args.defaults)) + init.args.defaults
    pairs = [*zip(positional, defaults, strict=True), *zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True)]
    return {arg.arg: _literal_default(default) for arg, default in pairs if arg.arg not in RUN_KEYS}


REQUIRED = inspect.Parameter.empty
NOT_LITERAL = object()


def _literal_default(node: ast.expr | None) -> Any:
    if node is None:
        return REQUIRED
    try:
        return ast.literal_eval(node)
    except ValueError:
        return NOT_LITERAL


# ---- reading: JSON text or a mapping, checked to be plain JSON data ----


def parse_hyperparams(hyperparams: str | Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters as a new dict of plain JSON data: a JSON object's text (the CLI's form) or a mapping
    (Python's); ``ValueError`` naming the problem otherwise."""
    if isinstance(hyperparams, str):
        if not hyperparams.strip():
            return {}
        try:
            value = json.loads(hyperparams)
        except RecursionError:
            raise ValueError(f"hyperparams: nested deeper than {MAX_DEPTH} levels") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"hyperparams is not valid JSON: {error}") from error
    elif isinstance(hyperparams, Mapping):
        value = hyperparams
    else:
        raise ValueError(f"hyperparams must be a JSON object's text or a dict, got {type(hyperparams).__name__}")
    if not isinstance(value, Mapping):
        raise ValueError(f"hyperparams must be a JSON object, got {type(value).__name__}")
    return check_plain_data(value, "hyperparams")


def check_plain_data(value: Any, where: str, depth: int = 0) -> Any:
    """A copy of ``value`` made of dicts with string keys, lists, strings, finite numbers, booleans and None,
    nested at most ``MAX_DEPTH`` deep; ``ValueError`` naming the first thing that is not (a YAML set, date or
    binary, a NaN, a tuple key)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a finite number")
        return value
    if isinstance(value, Mapping):
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            copy[key] = check_plain_data(item, f"{where}.{key}", depth + 1)
        return copy
    if isinstance(value, (list, tuple)):
        return [check_plain_data(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
    raise ValueError(
        f"{where}: a {type(value).__name__} is not a hyperparameter value; use numbers, strings, booleans, null, "
        "lists and mappings"
    )


# ---- the rules ----


def check_hyperparams(algo: str, hyperparams: Mapping[str, Any], kind: str, space_sizes: tuple[int, int, int]) -> None:
    """``ValueError`` for the first key or value of the resolved ``hyperparams`` that SB3 could not run on an env
    of action ``kind``.

    ``space_sizes``: the observation size, the action size as stored, and the policy's output size (the number of
    actions of a Discrete space)."""
    set_by_run = sorted(set(hyperparams) & set(RUN_FLAGS))
    if set_by_run:
        flags = " and ".join(RUN_FLAGS[key] for key in set_by_run)
        raise ValueError(f"hyperparams: {', '.join(set_by_run)} is set by the run; use {flags} instead")
    class_name = ALGORITHM_CLASS_PATHS[algo][2]
    allowed = set(constructor_defaults(algo)) | ZOO_KEYS
    unknown = sorted(set(hyperparams) - allowed)
    if unknown:
        raise ValueError(
            f"hyperparams: {', '.join(unknown)} not accepted by {class_name}{did_you_mean(unknown[0], allowed)}; "
            f"known: {', '.join(sorted(allowed))}"
        )
    policies = POLICIES.get(algo, DEFAULT_POLICIES)
    if hyperparams.get("policy") not in policies:
        raise ValueError(f"hyperparams: policy must be one of {', '.join(policies)}, got {hyperparams.get('policy')!r}")
    for key, value in hyperparams.items():
        if key in ("policy", "policy_kwargs"):
            continue
        if key in NOT_AS_TEXT:
            raise ValueError(f"hyperparams: {key} cannot be set here; {NOT_AS_TEXT[key]}")
        rule = SAC_ENT_COEF if (algo, key) == ("sac", "ent_coef") else RULES.get(key)
        if rule is None:  # a new SB3 argument: refused until it has a rule
            raise ValueError(f"hyperparams: {key} has no validation rule here, so it cannot be set")
        if not rule.accepts(value):
            raise ValueError(f"hyperparams: {key} must be {rule.description}, got {value!r}")
    policy_kwargs = hyperparams.get("policy_kwargs", {})
    if policy_kwargs is None:
        policy_kwargs = {}
    if not isinstance(policy_kwargs, Mapping):
        raise ValueError(f"hyperparams: policy_kwargs must be a mapping, got {policy_kwargs!r}")
    for key, value in policy_kwargs.items():  # values first: their rules need no SB3
        rule = POLICY_KWARGS_RULES.get(key)
        if key == "net_arch":
            net_arch_chains(value)
        elif rule is not None and not rule.accepts(value):
            raise ValueError(f"hyperparams: policy_kwargs.{key} must be {rule.description}, got {value!r}")
    _check_net_arch_layout(algo, policy_kwargs.get("net_arch"))
    _check_together(algo, hyperparams, kind)
    check_memory(
        estimate_bytes(algo, hyperparams, space_sizes),
        f"{algo} with these hyperparameters",
        "lower n_envs, buffer_size, n_steps, batch_size, n_delta or the net_arch widths",
    )
    if policy_kwargs:  # last: the policy's signature is the only check that imports SB3 (and torch)
        _check_policy_kwargs_keys(algorithm_class(algo), hyperparams["policy"], policy_kwargs)


def _check_policy_kwargs_keys(algorithm: Any, policy: str, policy_kwargs: Mapping[str, Any]) -> None:
    """Each key must be an argument of the policy's constructor that has a rule here (or be ``net_arch``)."""
    accepted = set(inspect.signature(algorithm.policy_aliases[policy].__init__).parameters)
    known = sorted(name for name in accepted if name in POLICY_KWARGS_RULES or name == "net_arch")
    for key in policy_kwargs:
        if key not in known:
            raise ValueError(
                f"hyperparams: policy_kwargs.{key} is not settable for {algorithm.__name__}'s {policy}"
                f"{did_you_mean(key, known)}; known: {', '.join(known)}"
            )


def _check_net_arch_layout(algo: str, net_arch: Any) -> None:
    """A dict ``net_arch`` names the networks the algorithm has: all of them for SAC and TD3, which build each."""
    if not isinstance(net_arch, Mapping):
        return
    keys = NET_ARCH_DICT_KEYS.get(algo)
    if keys is None:
        raise ValueError(f"hyperparams: {algo}'s net_arch must be a list of widths (it builds one network)")
    required = keys if algo in ("sac", "td3") else ()
    if not set(net_arch) <= set(keys) or not set(required) <= set(net_arch):
        which = " and ".join(keys) if required else f"among {', '.join(keys)}"
        raise ValueError(f"hyperparams: {algo}'s net_arch dict must have the keys {which}, got {sorted(net_arch)}")


def _check_together(algo: str, hyperparams: Mapping[str, Any], kind: str) -> None:
    """Values that are each fine but not together."""
    defaults = constructor_defaults(algo)
    value = {key: hyperparams.get(key, defaults.get(key)) for key in ("n_delta", "n_top", "batch_size")}
    if algo == "sb3-ars" and value["n_top"] is not None and value["n_top"] > value["n_delta"]:
        raise ValueError(f"hyperparams: n_top ({value['n_top']}) must not exceed n_delta ({value['n_delta']})")
    if algo == "ppo" and hyperparams.get("normalize_advantage", True):  # over a minibatch, and over the rollout
        if value["batch_size"] < 2:
            raise ValueError(f"hyperparams: batch_size must be at least 2 for PPO, got {value['batch_size']}")
        rollout = hyperparams.get("n_steps", defaults["n_steps"]) * hyperparams.get("n_envs", 1)
        if rollout < 2:
            raise ValueError(f"hyperparams: n_steps x n_envs must be at least 2 for PPO, got {rollout}")
    squash = (hyperparams.get("policy_kwargs") or {}).get("squash_output")
    if algo in ("ppo", "a2c") and squash and not hyperparams.get("use_sde"):
        raise ValueError("hyperparams: policy_kwargs.squash_output needs use_sde (SB3 squashes gSDE actions only)")
    if hyperparams.get("use_sde") and kind != CONTINUOUS:
        raise ValueError("hyperparams: use_sde (gSDE) needs a continuous action space; drop it for a discrete env")
    noise_type = hyperparams.get("noise_type")
    if noise_type is not None and kind != CONTINUOUS:
        raise ValueError("hyperparams: noise_type needs a continuous action space; drop it for a discrete env")
    if noise_type is not None and algo not in ("sac", "td3"):
        raise ValueError(f"hyperparams: noise_type is for the off-policy sac and td3, not {algo}")


def net_arch_chains(net_arch: Any) -> list[list[int]]:
    """The hidden-layer widths of each network SB3 builds from ``net_arch`` (a list, or a dict of lists)."""
    if net_arch is None:
        return []
    if isinstance(net_arch, Mapping) and not set(net_arch) <= set(NET_ARCH_KEYS):
        raise ValueError(f"net_arch's keys must be among {', '.join(NET_ARCH_KEYS)}, got {sorted(map(str, net_arch))}")
    lists = list(net_arch.values()) if isinstance(net_arch, Mapping) else [net_arch]
    for widths in lists:
        if not isinstance(widths, list) or not all(integer(1, MAX_WIDTH).accepts(width) for width in widths):
            raise ValueError(
                f"net_arch must be a list of integers in [1, {MAX_WIDTH}] or a dict of such lists, got {net_arch!r}"
            )
    return [widths for widths in lists if widths]


# ---- memory ----

FLOAT_BYTES = 4  # SB3's networks and buffers are float32
# Hidden widths SB3 uses when net_arch is not given.
DEFAULT_NET_ARCH = {"ppo": [64, 64], "a2c": [64, 64], "dqn": [64, 64], "sac": [256, 256], "td3": [400, 300]}


def _mlp_parameters(sizes: list[int]) -> int:
    return sum((inputs + 1) * outputs for inputs, outputs in itertools.pairwise(sizes))


def estimate_bytes(algo: str, hyperparams: Mapping[str, Any], space_sizes: tuple[int, int, int]) -> float:
    """What the model allocates up front, about: its envs, its rollout or replay buffer, its networks (parameters,
    gradients, two Adam moments and target copies) and one minibatch's activations."""
    observation, action, outputs = space_sizes
    defaults = constructor_defaults(algo)
    value = {**defaults, "n_envs": 1, **hyperparams}
    policy_kwargs = value.get("policy_kwargs") or {}
    net_arch = policy_kwargs.get("net_arch")
    if net_arch is None:
        net_arch = [] if value["policy"] == "LinearPolicy" else DEFAULT_NET_ARCH.get(algo, [64, 64])
    if isinstance(net_arch, Mapping):
        actor, critic = net_arch.get("pi", []), net_arch.get("vf", net_arch.get("qf", []))
    else:
        actor = critic = net_arch
    envs = value["n_envs"] * SB3_ENV_BYTES
    widths = sum(actor) + sum(critic)
    if algo in ("ppo", "a2c"):
        parameters = 4 * (_mlp_parameters([observation, *actor, outputs]) + _mlp_parameters([observation, *critic, 1]))
        buffer = value["n_steps"] * value["n_envs"] * (observation + action + 6)
        batch = value.get("batch_size", value["n_steps"] * value["n_envs"]) * (observation + widths) * 4
    elif algo == "sb3-ars":
        policy = _mlp_parameters([observation, *actor, action])
        parameters = (3 * value["n_delta"] + 2) * policy  # deltas, the 2 n_delta candidates, the policy
        buffer, batch = 0, value["n_envs"] * (observation + widths)
    else:
        critics = policy_kwargs.get("n_critics", 2) if algo != "dqn" else 1
        actor_outputs = outputs if algo == "dqn" else 2 * action
        parameters = 5 * _mlp_parameters([observation, *actor, actor_outputs])
        parameters += 5 * critics * _mlp_parameters([observation + action, *critic, 1]) if algo != "dqn" else 0
        buffer = value["buffer_size"] * (2 * observation + action + 3)
        batch = value["batch_size"] * (observation + action + widths * (1 + critics)) * 4
    return envs + FLOAT_BYTES * (parameters + buffer + batch)


# ---- the whole resolution ----


def space_sizes(env_id: str) -> tuple[str, tuple[int, int, int]]:
    """The env's action kind and (observation size, stored action size, policy output size)."""
    import gymnasium as gym
    import numpy as np

    from baselines.env_checks import action_kind_of

    env = gym.make(env_id)
    try:
        observation, action = env.observation_space, env.action_space
    finally:
        env.close()
    kind = action_kind_of(env_id, action)
    size = int(np.prod(observation.shape or (1,)))
    if isinstance(action, gym.spaces.Discrete):
        return kind, (size, 1, int(action.n))
    actions = int(np.prod(action.shape))
    return kind, (size, actions, actions)


HYPERPARAMS_BASES = ("table", "sb3")


def resolve_hyperparams(
    algo: str, env_id: str, hyperparams: str | Mapping[str, Any] = "", base: str = "table"
) -> dict[str, Any]:
    """What a run of ``algo`` on ``env_id`` passes to SB3: ``hyperparams`` on top of the table's entry (``base``
    "table") or of SB3's own defaults ("sb3", as rl-baselines3-zoo reads a file's entry), validated. A new dict of
    plain JSON data; ``ValueError`` naming the problem."""
    from baselines.env_checks import env_task
    from continuous_cartpole.registration import registered_id

    if base not in HYPERPARAMS_BASES:
        raise ValueError(f"hyperparams_base must be one of {', '.join(HYPERPARAMS_BASES)}, got {base!r}")
    overrides = parse_hyperparams(hyperparams)
    kind, sizes = space_sizes(registered_id(env_id))
    supported = table.action_spaces(algo)
    if kind not in supported:
        raise ValueError(f"{algo} only supports {' and '.join(sorted(supported))} action spaces; {env_id} is {kind}")
    if base == "sb3" and "policy" not in overrides:
        raise ValueError("hyperparams: policy is missing (an rl-baselines3-zoo entry names it, e.g. MlpPolicy)")
    task = env_task(registered_id(env_id))  # the swing-up has entries of its own
    resolved = table.layered(table.resolve(algo, kind, task=task) if base == "table" else {}, overrides)
    check_hyperparams(algo, resolved, kind, sizes)
    return resolved
