"""Per-sub-env physics and domain randomization in the NumPy envs: each sub-env against a single env made with its
values, bit for bit in float64; randomized draws validated, deterministic under a seed and taken at resets only."""

from __future__ import annotations

import itertools
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from continuous_cartpole import CartPoleParams, CartPoleVectorEnv
from continuous_cartpole.physics import NUMERIC_FIELDS
from continuous_cartpole.randomization import Randomization
from continuous_cartpole.vector import BLOCK

RANDOMIZE = {"length": (0.25, 1.0), "masspole": (0.05, 0.5), "force_mag": (5.0, 15.0, "uniform"), "gravity": (8, 12)}


def varied_params(num_envs: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Every numeric parameter different in every sub-env, in physically sensible ranges."""
    rng = np.random.default_rng(seed)
    ranges = {
        "gravity": (5, 15),
        "masscart": (0.5, 2),
        "masspole": (0.05, 1),
        "length": (0.2, 2),
        "force_mag": (2, 20),
        "tau": (0.01, 0.03),
        "theta_threshold_radians": (0.15, 0.4),
        "x_threshold": (1.5, 3),
        "failure_reward": (-2, 1),
    }
    return {name: rng.uniform(low, high, num_envs) for name, (low, high) in ranges.items()}


def controller_actions(obs: np.ndarray, continuous: bool, rng: np.random.Generator) -> np.ndarray:
    """A noisy balancing controller, so that episodes both fail and reach the time limit."""
    push = 0.3 * obs[:, 0] + 0.5 * obs[:, 1] + 10 * obs[:, 2] + 2 * obs[:, 3] + rng.normal(0, 0.7, len(obs))
    return np.clip(push, -1, 1)[:, None].astype(np.float32) if continuous else (push > 0).astype(np.int64)


def test_parameter_arrays_are_validated_element_wise_and_stored_read_only():
    lengths = np.array([0.5, 1.0, 2.0])
    params = CartPoleParams(length=lengths, masspole=[0.1, 0.2, 0.3])
    lengths[0] = 9.0  # the caller's array is copied
    assert params.length.tolist() == [0.5, 1.0, 2.0] and not params.length.flags.writeable
    assert params.batch_shape == (3,) and params.total_mass.tolist() == [1.1, 1.2, 1.3]
    assert params.at(2) == CartPoleParams(length=2.0, masspole=0.3)
    assert params == CartPoleParams(length=[0.5, 1.0, 2.0], masspole=np.array([0.1, 0.2, 0.3]))
    assert hash(params) == hash(CartPoleParams(length=[0.5, 1.0, 2.0], masspole=np.array([0.1, 0.2, 0.3])))
    assert params != CartPoleParams(length=[0.5, 1.0, 2.5], masspole=[0.1, 0.2, 0.3]) != CartPoleParams()
    assert params.observation_high == CartPoleParams().observation_high
    tau = CartPoleParams(tau=[0.02, 0.01, 0.05]).observation_high
    assert tau == CartPoleParams(tau=0.01).observation_high  # the widest bound over the batch
    with pytest.raises(ValueError, match=r"CartPole parameter length must lie in \[0.01, 100\], got 0.0 at index 1"):
        CartPoleParams(length=[0.5, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"masspole must lie in .* got nan at index 2"):
        CartPoleParams(masspole=[0.1, 0.1, np.nan])
    with pytest.raises(ValueError, match=r"arrays must have the same shape, got masspole \(2,\), length \(3,\)"):
        CartPoleParams(length=[0.5, 1.0, 2.0], masspole=[0.1, 0.2])
    with pytest.raises(ValueError, match="gravity must be a real number or a non-empty array"):
        CartPoleParams(gravity=["9.8"])


@pytest.mark.parametrize("mode", list(AutoresetMode))
@pytest.mark.parametrize(
    "env_id",
    ["ContinuousCartPole-v0", "DiscreteCartPole-v0", "ContinuousCartPoleSwingUp-v0", "DiscreteCartPoleSwingUp-v0"],
)
def test_each_sub_env_reproduces_a_single_env_made_with_its_values_bit_for_bit(env_id, mode):
    """float64, every parameter different per sub-env, across the block boundary of the physics (BLOCK), in the
    balance and the swing-up tasks."""
    num_envs = BLOCK + 3
    values = varied_params(num_envs)
    envs = gym.make_vec(
        env_id, num_envs=num_envs, dtype=np.float64, max_episode_steps=40, autoreset_mode=mode, **values
    )
    singles = {
        i: gym.make(env_id, max_episode_steps=40, **{name: float(v[i]) for name, v in values.items()})
        for i in (0, 1, BLOCK - 1, BLOCK + 2)
    }

    def start_like_the_sub_env(i: int) -> None:
        singles[i].reset(seed=0)
        singles[i].unwrapped.state = tuple(envs.state[:, i].tolist())

    obs, _ = envs.reset(seed=5)
    for i in singles:
        start_like_the_sub_env(i)
    rng = np.random.default_rng(1)
    restarts_next = dict.fromkeys(singles, False)  # NEXT_STEP: the sub-env's next step is its reset step
    ends = 0
    for _ in range(120):
        actions = controller_actions(obs, envs.continuous, rng)
        obs, reward, terminated, truncated, info = envs.step(actions)
        if mode == AutoresetMode.DISABLED and (terminated | truncated).any():
            envs.reset(options={"reset_mask": terminated | truncated})
        for i, single in singles.items():
            if restarts_next[i]:
                assert (reward[i], terminated[i], truncated[i]) == (0.0, False, False)
                start_like_the_sub_env(i)
                restarts_next[i] = False
                continue
            obs_s, reward_s, terminated_s, truncated_s, _ = single.step(actions[i])
            done = terminated_s or truncated_s
            last_obs = info["final_obs"][i] if mode == AutoresetMode.SAME_STEP and done else obs[i]
            assert last_obs.tobytes() == obs_s.tobytes()
            assert (reward[i], terminated[i], truncated[i]) == (np.float32(reward_s), terminated_s, truncated_s)
            if done:
                ends += 1
                if mode == AutoresetMode.NEXT_STEP:
                    restarts_next[i] = True
                else:
                    start_like_the_sub_env(i)
    assert ends >= 2 * len(singles)


def test_set_attr_takes_one_params_per_sub_env_and_get_attr_gives_them_back():
    values = varied_params(5, seed=2)
    built = CartPoleVectorEnv(num_envs=5, dtype=np.float64, **values)
    changed = CartPoleVectorEnv(num_envs=5, dtype=np.float64)
    per_env = [CartPoleParams(**{k: float(v[i]) for k, v in values.items()}) for i in range(5)]
    changed.set_attr("params", per_env)
    assert changed.params == built.params and changed.get_attr("params") == tuple(per_env)
    assert changed.observation_space == built.observation_space
    changed.reset(seed=1)
    built.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(50):
        actions = rng.uniform(-1, 1, (5, 1)).astype(np.float32)
        assert all(
            np.array_equal(a, b) for a, b in zip(changed.step(actions)[:4], built.step(actions)[:4], strict=True)
        )
    changed.params = CartPoleParams(length=np.full(5, 0.7))  # assigning arrays works too
    assert changed.params.length.tolist() == [0.7] * 5
    with pytest.raises(ValueError, match=r"params arrays must have shape \(num_envs,\) = \(5,\), got \(3,\)"):
        changed.params = CartPoleParams(length=[0.5, 0.6, 0.7])
    with pytest.raises(ValueError, match="one CartPoleParams or a list of 5"):
        changed.set_attr("params", per_env[:4])
    with pytest.raises(ValueError, match=r"must have shape \(num_envs,\)"):
        gym.make_vec("ContinuousCartPole-v0", num_envs=4, length=[0.5, 0.6])


def test_every_observation_lies_in_the_space_built_from_the_widest_sub_env():
    values = {"x_threshold": np.array([1.0, 3.0, 2.0]), "tau": np.array([0.02, 0.05, 0.01])}
    envs = CartPoleVectorEnv(num_envs=3, continuous=False, **values)
    assert envs.single_observation_space.high[0] == np.float32(6.0)
    assert envs.single_observation_space.high[1] == np.float32(4 * 2.0 / 0.01)  # per sub-env, then the largest
    obs, _ = envs.reset(seed=0)
    for step in range(300):
        obs, *_ = envs.step(np.full(3, step // 7 % 2))
        assert envs.observation_space.contains(obs)


def test_rendering_draws_each_sub_env_with_its_own_pole():
    envs = CartPoleVectorEnv(num_envs=2, length=[0.25, 1.0], render_mode="rgb_array")
    envs.reset(seed=0)
    short, long = envs.render()
    pole = np.array([202, 152, 101])
    assert (long == pole).all(axis=2).sum() > 3 * (short == pole).all(axis=2).sum()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"mass": (0.1, 1.0)}, "unknown CartPole parameter 'mass'; valid: gravity, masscart"),
        ({"kinematics_integrator": ("euler", "euler")}, "unknown CartPole parameter 'kinematics_integrator'"),
        ({"length": (1.0, 0.5)}, r"randomize\['length'\]: low \(1\) must not exceed high \(0.5\)"),
        ({"length": (0.5, 200.0)}, r"randomize: CartPole parameter length must lie in \[0.01, 100\], got 200.0"),
        ({"tau": (0.0, 0.02)}, r"CartPole parameter tau must lie in \[0.0001, 1\], got 0.0"),
        ({"masspole": (0.1, float("nan"))}, "masspole must lie in"),
        ({"length": 0.5}, r"randomize\['length'\] must be \(low, high\) or \(low, high, 'uniform' \| 'log-uniform'\)"),
        ({"length": (0.5, 1.0, "normal")}, r"randomize\['length'\] must be \(low, high\)"),
        ({"length": ("0.5", 1.0)}, r"randomize\['length'\] must be \(low, high\)"),
        ({"gravity": (-1.0, 1.0, "log-uniform")}, "a log-uniform range needs low > 0, got -1; use 'uniform'"),
        ([("length", (0.5, 1.0))], "randomize must be a dict such as"),
    ],
)
def test_bad_randomize_arguments_are_one_line_errors(spec, message):
    for make in (gym.make, gym.make_vec):
        with pytest.raises(ValueError, match=message):
            make("ContinuousCartPole-v0", randomize=spec)


def test_randomize_works_on_the_swing_up_with_bounds_over_the_ranges():
    ranges = {"length": (0.25, 1.0), "masspole": (0.05, 0.5)}
    for make in (gym.make, gym.make_vec):
        env = make("ContinuousCartPoleSwingUp-v0", randomize=ranges)
        nominal = make("ContinuousCartPoleSwingUp-v0")
        assert env.unwrapped.randomize.names == ("masspole", "length")
        # the interval bounds hold the heaviest, longest pole, which the nominal bounds do not
        assert (env.observation_space.high > nominal.observation_space.high).any()
        assert (env.observation_space.high >= nominal.observation_space.high).all()


def test_a_parameter_both_set_and_randomized_is_refused():
    with pytest.raises(ValueError, match="length given both as a value and in randomize; pass one of the two"):
        gym.make_vec("ContinuousCartPole-v0", num_envs=2, length=0.7, randomize={"length": (0.25, 1.0)})


def test_scale_parameters_default_to_log_uniform_and_the_others_to_uniform():
    ranges = Randomization.of({"length": (0.25, 1.0), "gravity": (8.0, 12.0), "masspole": (0.1, 1.0, "uniform")})
    assert ranges.as_dict() == {
        "length": (0.25, 1.0, "log-uniform"),
        "gravity": (8.0, 12.0, "uniform"),
        "masspole": (0.1, 1.0, "uniform"),
    }
    drawn = dict(zip(ranges.names, ranges.draw(np.random.default_rng(0), 20000), strict=True))
    assert drawn["length"].min() >= 0.25 and drawn["length"].max() <= 1.0
    assert abs(np.median(drawn["length"]) - 0.5) < 0.01  # the geometric mean: half the draws below 2x the low end
    assert abs(np.median(drawn["gravity"]) - 10.0) < 0.1 and abs(np.median(drawn["masspole"]) - 0.55) < 0.02


def params_history(envs, mode: AutoresetMode, seed: int, steps: int = 60) -> list[np.ndarray]:
    """The randomized values in force after the reset and every step, with a fixed action sequence."""
    envs.reset(seed=seed)
    history = [np.stack([envs.params.length, envs.params.masspole])]
    rng = np.random.default_rng(3)
    for _ in range(steps):
        _, _, terminated, truncated, _ = envs.step(rng.uniform(-1, 1, (envs.num_envs, 1)).astype(np.float32))
        if mode == AutoresetMode.DISABLED and (terminated | truncated).any():
            envs.reset(options={"reset_mask": terminated | truncated})
        history.append(np.stack([envs.params.length, envs.params.masspole]))
    return history


@pytest.mark.parametrize("mode", list(AutoresetMode))
@pytest.mark.parametrize("env_id", ["ContinuousCartPole-v0", "ContinuousCartPoleSwingUp-v0"])
def test_randomized_physics_is_deterministic_under_a_seed_and_redrawn_at_each_reset_only(env_id, mode):
    limit = {"max_episode_steps": 15} if "SwingUp" in env_id else {}  # swing-up episodes rarely end in 60 steps

    def make():
        return gym.make_vec(env_id, num_envs=8, autoreset_mode=mode, randomize=RANDOMIZE, **limit)

    first, again, other = (
        params_history(make(), mode, 7),
        params_history(make(), mode, 7),
        params_history(make(), mode, 8),
    )
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    changes = sum(int((a != b).any(axis=0).sum()) for a, b in itertools.pairwise(first))
    assert changes > 8  # many sub-envs restarted with new physics...
    envs = make()
    envs.reset(seed=7)
    rng = np.random.default_rng(3)
    for _ in range(60):  # ...and only those: a sub-env's physics holds for its whole episode
        before = envs.params
        _, _, terminated, truncated, _ = envs.step(rng.uniform(-1, 1, (8, 1)).astype(np.float32))
        if mode == AutoresetMode.DISABLED and (terminated | truncated).any():
            envs.reset(options={"reset_mask": terminated | truncated})
        kept = envs.steps > 0  # every other sub-env (re)started on this step
        for name in RANDOMIZE:
            now, then = getattr(envs.params, name), getattr(before, name)
            assert np.array_equal(now[kept], then[kept]) and (now[~kept] != then[~kept]).all()
        assert envs.params.masscart == 1.0  # not randomized: the nominal value
        for name, (low, high, *_) in RANDOMIZE.items():
            assert (low <= getattr(envs.params, name)).all() and (getattr(envs.params, name) <= high).all()


def test_the_single_env_draws_its_physics_at_every_reset_deterministically_under_a_seed():
    def episodes(seed: int) -> list[CartPoleParams]:
        env = gym.make("ContinuousCartPole-v0", randomize=RANDOMIZE, max_episode_steps=30)
        env.reset(seed=seed)
        seen = [env.unwrapped.params]
        for _ in range(300):
            obs, _, terminated, truncated, _ = env.step(np.array([0.3], np.float32))
            assert env.observation_space.contains(obs)
            assert env.unwrapped.params == seen[-1]  # fixed for the whole episode
            if terminated or truncated:
                env.reset()
                seen.append(env.unwrapped.params)
        return seen

    first = episodes(3)
    assert first == episodes(3) and first != episodes(4)
    assert len({p.length for p in first}) == len(first) > 10
    for params in first:
        for name, (low, high, *_) in RANDOMIZE.items():
            assert low <= getattr(params, name) <= high
        assert params.masscart == 1.0 and params.tau == 0.02  # the others stay nominal


@pytest.mark.filterwarnings("ignore:.*stepped after their episode ended")
def test_randomized_constants_follow_the_draws_across_physics_blocks():
    """After each reset the randomized env steps exactly as an env given its drawn values as arrays."""
    num_envs = BLOCK + 5
    randomized = CartPoleVectorEnv(num_envs=num_envs, randomize=RANDOMIZE, autoreset_mode="Disabled")
    randomized.reset(seed=4)
    for _ in range(2):
        fixed = CartPoleVectorEnv(num_envs=num_envs, autoreset_mode="Disabled")
        fixed.params = randomized.params
        fixed.reset(seed=0)
        fixed.state = randomized.state.copy()
        actions = np.random.default_rng(0).uniform(-1, 1, (num_envs, 1)).astype(np.float32)
        for _ in range(5):
            outputs = zip(randomized.step(actions)[:4], fixed.step(actions)[:4], strict=True)
            assert all(np.array_equal(a, b) for a, b in outputs)
        randomized.reset(options={"reset_mask": np.arange(num_envs) % 3 == 0})


def test_randomized_envs_pickle_and_the_copy_continues_identically():
    envs = CartPoleVectorEnv(num_envs=BLOCK + 2, randomize=RANDOMIZE)
    envs.reset(seed=0)
    copy = pickle.loads(pickle.dumps(envs))
    actions = np.zeros((BLOCK + 2, 1), np.float32)
    for _ in range(30):
        assert all(np.array_equal(a, b) for a, b in zip(envs.step(actions)[:4], copy.step(actions)[:4], strict=True))
    assert copy.params == envs.params


def test_randomize_can_be_changed_and_the_space_follows():
    envs = gym.make_vec("ContinuousCartPole-v0", num_envs=3)
    nominal_space = envs.observation_space
    envs.set_attr("randomize", {"tau": (0.01, 0.02), "x_threshold": (2.0, 4.0)})
    assert envs.single_observation_space.high[0] == np.float32(8.0)
    assert envs.single_observation_space.high[1] == np.float32(4 * 4.0 / 0.01)
    envs.reset(seed=0)
    assert (envs.params.tau != 0.02).all()
    envs.randomize = None
    assert envs.observation_space != nominal_space  # the drawn values stay in force...
    envs.params = CartPoleParams()
    assert envs.observation_space == nominal_space  # ...until nominal ones are assigned
    assert all(np.ndim(getattr(envs.params, name)) == 0 for name in NUMERIC_FIELDS)
