"""Hyperparameters of the Stable-Baselines3 runs: one table, one entry per (algorithm, action space), with sources.

Values are keyword arguments of the SB3 algorithm's constructor, written as rl-baselines3-zoo writes them, plus
three zoo conventions that ``baselines.sb3`` turns into SB3 objects: ``n_envs`` (training envs), ``"lin_X"``
(a schedule falling linearly from X to 0 over the budget) and ``noise_type``/``noise_std`` (TD3's Gaussian action
noise). ``policy_kwargs`` name activations as strings (``"relu"``, ``"tanh"``) so the table stays JSON.
``budget`` is the entry's default env-step budget (the zoo's ``n_timesteps`` where it has one).

Discrete env (``DiscreteCartPole-v0``): the zoo's tuned CartPole-v1 values, unchanged. Our env differs from
CartPole-v1 only in failing at 20 instead of 12 degrees and paying 0 on the failing step, which makes it no harder.

Continuous env (``ContinuousCartPole-v0``, actions in [-1, 1]): the zoo has no continuous cart-pole, so the values
start from the CartPole-v1 entry (same dynamics, observations and horizon) for the algorithms that have one, and
from the zoo's Pendulum-v1 entries (the zoo's smallest tuned continuous task) for SAC and TD3. Each departure is
commented where it is made, with what it was measured to do on this env (single runs per seed, one CPU thread).
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field
from typing import Any

from baselines.algorithms import CONTINUOUS, DISCRETE


@dataclass(frozen=True)
class HyperparamEntry:
    source: str  # where the values come from
    budget: int  # default env-step budget of a run
    values: dict[str, Any] = field(default_factory=dict)


ZOO = "rl-baselines3-zoo hyperparams/"

# Shared by both PPO entries; ``resolve`` hands out deep copies, so no run can change it.
_PPO_CARTPOLE_V1: dict[str, Any] = {
    "policy": "MlpPolicy",
    "n_envs": 8,
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": "lin_0.001",
    "clip_range": "lin_0.2",
}

TABLE: dict[tuple[str, str], HyperparamEntry] = {
    # ---- PPO ----
    ("ppo", DISCRETE): HyperparamEntry(
        source=ZOO + "ppo.yml CartPole-v1 (tuned)", budget=100_000, values=_PPO_CARTPOLE_V1
    ),
    ("ppo", CONTINUOUS): HyperparamEntry(
        # Pendulum-v1's tuned PPO (gSDE, n_steps 1024, gamma 0.9) targets a swing-up with dense rewards; balancing
        # is CartPole-v1's task, so its values carry over with a Gaussian policy (SB3's default log-std 0).
        source=ZOO + "ppo.yml CartPole-v1 (tuned), Gaussian policy",
        budget=100_000,
        values=_PPO_CARTPOLE_V1,
    ),
    # ---- A2C ----
    ("a2c", DISCRETE): HyperparamEntry(
        source=ZOO + "a2c.yml CartPole-v1 (SB3 defaults otherwise: n_steps 5, lr 7e-4, RMSprop)",
        budget=500_000,
        values={"policy": "MlpPolicy", "n_envs": 8, "ent_coef": 0.0},
    ),
    ("a2c", CONTINUOUS): HyperparamEntry(
        # Kept as CartPole-v1's: with log_std_init -1 and ortho_init False (a2c.yml Pendulum-v1, without its
        # VecNormalize and gSDE) seeds 0-2 solved in 60k-80k steps; with these, seeds 0-1 in 22k-28k.
        source=ZOO + "a2c.yml CartPole-v1, Gaussian policy (SB3's default log-std 0)",
        budget=500_000,
        values={"policy": "MlpPolicy", "n_envs": 8, "ent_coef": 0.0},
    ),
    # ---- DQN (discrete only) ----
    ("dqn", DISCRETE): HyperparamEntry(
        source=ZOO + "dqn.yml CartPole-v1 (tuned)",
        budget=50_000,
        values={
            "policy": "MlpPolicy",
            "learning_rate": 2.3e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1000,
            "gamma": 0.99,
            "target_update_interval": 10,
            "train_freq": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.16,
            "exploration_final_eps": 0.04,
            "policy_kwargs": {"net_arch": [256, 256]},
        },
    ),
    # ---- SAC (continuous only) ----
    ("sac", CONTINUOUS): HyperparamEntry(
        # Pendulum-v1: lr 1e-3, SB3 defaults otherwise (batch 256, tau 0.005, gamma 0.99, one gradient step per
        # env step). Departures: [64, 64] networks (the zoo's MountainCarContinuous-v0 SAC size) instead of
        # [256, 256], measured 3x faster per step on one CPU thread (235 vs 78 steps/s); learning_starts 1000
        # random steps (two or more episodes) instead of 100. Seed 0 solved in 18k steps.
        source=ZOO + "sac.yml Pendulum-v1; net_arch from sac.yml MountainCarContinuous-v0",
        budget=50_000,
        values={
            "policy": "MlpPolicy",
            "learning_rate": 1e-3,
            "learning_starts": 1000,
            "policy_kwargs": {"net_arch": [64, 64]},
        },
    ),
    # ---- TD3 (continuous only) ----
    ("td3", CONTINUOUS): HyperparamEntry(
        # Pendulum-v1: Gaussian noise 0.1, lr 1e-3, gamma 0.98. Departures: learning_starts 1000 (not 10000,
        # which is 20 full episodes here), one gradient step per env step, and [64, 64] networks instead of
        # [400, 300] (speed on one CPU thread, as for SAC). Seed 0 did not solve in 40k-60k steps with these, nor
        # with learning_starts 10000, gamma 0.99 or [256, 256] networks (best evaluation 170-310).
        source=ZOO + "td3.yml Pendulum-v1; net_arch as for SAC",
        budget=50_000,
        values={
            "policy": "MlpPolicy",
            "learning_rate": 1e-3,
            "gamma": 0.98,
            "learning_starts": 1000,
            "train_freq": 1,
            "gradient_steps": 1,
            "noise_type": "normal",
            "noise_std": 0.1,
            "policy_kwargs": {"net_arch": [64, 64]},
        },
    ),
    # ---- ARS (sb3-contrib) ----
    ("sb3-ars", DISCRETE): HyperparamEntry(
        source=ZOO + "ars.yml CartPole-v1 (tuned; sb3-contrib defaults otherwise: lr 0.02, delta_std 0.05)",
        budget=50_000,
        values={"policy": "LinearPolicy", "n_envs": 1, "n_delta": 2},
    ),
    ("sb3-ars", CONTINUOUS): HyperparamEntry(
        # The CartPole-v1 values (delta_std 0.05, lr 0.02) solved 1 of 2 seeds in 100k steps here: the linear
        # policy's output must grow to use the [-1, 1] force range, so this entry takes Pendulum-v1's delta_std 0.1
        # and a larger step, lr 0.05 (seeds 0-2 solved in 16k-30k steps; with lr 0.02 in 56k-80k).
        source=ZOO + "ars.yml CartPole-v1; delta_std from ars.yml Pendulum-v1; learning_rate ours",
        budget=100_000,
        values={"policy": "LinearPolicy", "n_envs": 1, "n_delta": 2, "delta_std": 0.1, "learning_rate": 0.05},
    ),
}

# ---- Swing-up (ContinuousCartPoleSwingUp-v0 and DiscreteCartPoleSwingUp-v0, dense or sparse reward) ----
# The zoo has no cart-pole swing-up; its closest tuned task is PyBullet's InvertedPendulumSwingupBulletEnv-v0 (a
# cart-pole swinging up from hanging, 1000-step episodes), whose SAC, TD3 and PPO entries these start from, and
# Acrobot-v1 (a discrete swing-up) for DQN. Departures, as for the balance entries, are for speed on a shared CPU.
SWINGUP_TABLE: dict[tuple[str, str], HyperparamEntry] = {
    ("sac", CONTINUOUS): HyperparamEntry(
        # PyBullet defaults (lr 7.3e-4, buffer 300k, batch 256, auto entropy, gamma 0.98, tau 0.02, 8 gradient
        # steps every 8 env steps, gSDE with log-std -3, 10k random steps) and the zoo's 300k-step budget.
        # Departure: [64, 64] networks instead of [400, 300], as for the balance entry (about 200 steps/s on one
        # CPU thread). A 100k budget was too short: seed 0 solved at 70k steps, seed 1 ended at 570.
        source=ZOO + "sac.yml InvertedPendulumSwingupBulletEnv-v0 (pybullet-defaults); net_arch [64, 64]",
        budget=300_000,
        values={
            "policy": "MlpPolicy",
            "learning_rate": 7.3e-4,
            "buffer_size": 300_000,
            "batch_size": 256,
            "ent_coef": "auto",
            "gamma": 0.98,
            "tau": 0.02,
            "train_freq": 8,
            "gradient_steps": 8,
            "learning_starts": 10_000,
            "use_sde": True,
            "policy_kwargs": {"log_std_init": -3, "net_arch": [64, 64]},
        },
    ),
    ("td3", CONTINUOUS): HyperparamEntry(
        # PyBullet defaults (gamma 0.98, buffer 200k, 10k random steps, Gaussian noise 0.1, batch 256, lr 7e-4).
        # The zoo's 300k-step budget, as SAC's. Departure: [64, 64] networks instead of [400, 300]. Solved 6 of 10
        # seeds here, at 145k-290k steps; two of the others never swung up.
        source=ZOO + "td3.yml InvertedPendulumSwingupBulletEnv-v0 (pybullet-defaults); net_arch [64, 64]",
        budget=300_000,
        values={
            "policy": "MlpPolicy",
            "gamma": 0.98,
            "buffer_size": 200_000,
            "learning_starts": 10_000,
            "noise_type": "normal",
            "noise_std": 0.1,
            "gradient_steps": 1,
            "train_freq": 1,
            "batch_size": 256,
            "learning_rate": 7e-4,
            "policy_kwargs": {"net_arch": [64, 64]},
        },
    ),
    ("ppo", CONTINUOUS): HyperparamEntry(
        # Without the zoo's VecNormalize (not supported here: it would change what the evaluations see). Not run
        # here yet.
        source=ZOO + "ppo.yml InvertedPendulumSwingupBulletEnv-v0 without normalize",
        budget=2_000_000,
        values={
            "policy": "MlpPolicy",
            "n_envs": 8,
            "n_steps": 2048,
            "batch_size": 64,
            "gae_lambda": 0.95,
            "gamma": 0.99,
            "n_epochs": 10,
            "ent_coef": 0.0,
            "learning_rate": 2.5e-4,
            "clip_range": 0.2,
        },
    ),
    ("dqn", DISCRETE): HyperparamEntry(
        # Acrobot is the zoo's discrete swing-up; the swing-up's three actions (left, none, right) as there.
        # Departure: 300k env steps, as SAC and TD3 get here, instead of Acrobot's 100k (its episodes are 500 steps,
        # ours 1000). Solved 10 of 10 seeds here, at 45k-100k steps.
        source=ZOO + "dqn.yml Acrobot-v1 (tuned); budget 300k",
        budget=300_000,
        values={
            "policy": "MlpPolicy",
            "learning_rate": 6.3e-4,
            "batch_size": 128,
            "buffer_size": 50_000,
            "learning_starts": 0,
            "gamma": 0.99,
            "target_update_interval": 250,
            "train_freq": 4,
            "gradient_steps": -1,
            "exploration_fraction": 0.12,
            "exploration_final_eps": 0.1,
            "policy_kwargs": {"net_arch": [256, 256]},
        },
    ),
}
TASK_TABLES = {"balance": TABLE, "swingup": SWINGUP_TABLE, "swingup_sparse": SWINGUP_TABLE}

SB3_ALGORITHMS = ("ppo", "a2c", "dqn", "sac", "td3", "sb3-ars")


def action_spaces(algo: str) -> frozenset[str]:
    """The action spaces the table has an entry for, which are those the algorithm supports."""
    return frozenset(kind for name, kind in TABLE if name == algo)


def entry(algo: str, kind: str, task: str = "balance") -> HyperparamEntry:
    """The entry for the env's task (``continuous_cartpole``'s ``task`` keyword: balance, swingup, swingup_sparse);
    ``ValueError`` naming the problem for an unknown algorithm or an unsupported space. A task without an entry of
    its own for the algorithm (A2C and sb3-ars on the swing-up) gets the balance entry."""
    if algo not in SB3_ALGORITHMS:
        raise ValueError(f"unknown Stable-Baselines3 algorithm {algo!r}; known: {', '.join(SB3_ALGORITHMS)}")
    if (algo, kind) not in TABLE:
        supported = " and ".join(sorted(action_spaces(algo)))
        raise ValueError(f"{algo} supports only {supported} action spaces, not {kind} ones")
    return TASK_TABLES.get(task, TABLE).get((algo, kind), TABLE[(algo, kind)])


def resolve(algo: str, kind: str, overrides: dict[str, Any] | None = None, task: str = "balance") -> dict[str, Any]:
    """The entry's values with ``overrides`` on top (``policy_kwargs`` merged key by key); a deep copy."""
    return layered(json.loads(json.dumps(entry(algo, kind, task).values)), overrides or {})


def layered(values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``values`` with ``overrides`` on top, ``policy_kwargs`` merged key by key (a net_arch alone keeps the
    activation); a new dict."""
    result = dict(values)
    for key, value in overrides.items():
        if key == "policy_kwargs" and isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    return result


def uses_several_envs(algo: str) -> bool:
    """Whether the algorithm trains on SB3's vectorised env (its table entries set ``n_envs``)."""
    return any("n_envs" in entry.values for (name, _), entry in TABLE.items() if name == algo)


# rl-baselines3-zoo keys for the zoo's own machinery, which runs here do not have, and why.
ZOO_UNSUPPORTED = {
    "normalize": "VecNormalize would change the observations the evaluations see",
    "frame_stack": "observations are not stacked here",
    "env_wrapper": "envs are not wrapped here",
    "vec_env_wrapper": "envs are not wrapped here",
    "callback": "the training monitor is the only callback here",
}
# The zoo writes policy_kwargs as Python source, e.g. "dict(net_arch=[64, 64], activation_fn=nn.Tanh)".
ZOO_ACTIVATIONS = {
    "nn.ReLU": "relu",
    "nn.Tanh": "tanh",
    "nn.ELU": "elu",
    "nn.LeakyReLU": "leaky_relu",
    "nn.GELU": "gelu",
    "nn.SiLU": "silu",
}


ZOO_DEFAULT_ENTRY = "default"  # rl-baselines3-zoo's entry for an env id the file does not list


def from_zoo_file(path: str | os.PathLike[str], *env_ids: str) -> tuple[dict[str, Any], int | None]:
    """The hyperparameters and budget (``n_timesteps``) of the first of ``env_ids`` in an rl-baselines3-zoo file, or
    of its ``default`` entry when it lists none of them (as the zoo reads it).

    The entry holds every value of the run: keys it leaves out take SB3's defaults, not the table's (the config's
    ``hyperparams_base="sb3"``). The file goes through the bounded reader (size, nesting, aliases; plain data only)
    and its ``policy_kwargs`` string is parsed as literals, never run. ``ValueError`` naming the problem for an
    unreadable file, a missing entry or a zoo-only key.
    """
    from baselines.bounded_read import read_yaml  # imported when a file is read

    document = read_yaml(path, what="hyperparameter file")
    if not isinstance(document, dict):
        raise ValueError("is not rl-baselines3-zoo's layout (a mapping of env id -> hyperparameters)")
    name = next((env_id for env_id in env_ids if env_id in document), ZOO_DEFAULT_ENTRY)
    if name not in document:
        wanted = " or ".join(dict.fromkeys(env_ids))
        listed = ", ".join(map(str, document)) or "nothing"
        raise ValueError(f"has no entry for {wanted} and no {ZOO_DEFAULT_ENTRY!r} entry; it lists {listed}")
    entry = document[name]
    if not isinstance(entry, dict):
        raise ValueError(f"entry {name} is not a mapping of hyperparameters, got {entry!r}")
    values = dict(entry)
    for key, why in ZOO_UNSUPPORTED.items():
        if values.get(key) not in (None, False):
            raise ValueError(f"{key} is not supported: {why}; remove it from the entry")
        values.pop(key, None)
    budget = values.pop("n_timesteps", None)
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 1 <= budget <= 2**53:
            raise ValueError(f"n_timesteps must be a whole number in [1, 2**53], got {budget!r}")
        if budget != int(budget):
            raise ValueError(f"n_timesteps must be a whole number, got {budget!r}")
        budget = int(budget)
    if isinstance(values.get("policy_kwargs"), str):
        values["policy_kwargs"] = _zoo_policy_kwargs(values["policy_kwargs"])
    return values, budget


def _zoo_policy_kwargs(source: str) -> dict[str, Any]:
    """``"dict(net_arch=[64, 64], activation_fn=nn.Tanh)"`` -> ``{"net_arch": [64, 64], "activation_fn": "tanh"}``."""
    try:
        value = _literal(ast.parse(source.strip(), mode="eval").body)
    except (RecursionError, MemoryError):  # a string nested thousands of levels deep
        raise ValueError(f"policy_kwargs is nested too deeply: {source[:40]!r}...") from None
    except (SyntaxError, ValueError) as error:
        raise ValueError(f"policy_kwargs {source!r}: {error}; use literals, dict(...) and nn.<Activation>") from None
    if not isinstance(value, dict):
        raise ValueError(f"policy_kwargs {source!r} is not a dict")
    return value


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {keyword.arg: _literal(keyword.value) for keyword in node.keywords if keyword.arg is not None}
    if isinstance(node, ast.Attribute) and ast.unparse(node) in ZOO_ACTIVATIONS:
        return ZOO_ACTIVATIONS[ast.unparse(node)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        return {_literal(key): _literal(value) for key, value in pairs if key is not None}
    return ast.literal_eval(node)
