"""TorchCartPoleVectorEnv against the NumPy vector env and Gymnasium's SyncVectorEnv: physics, autoreset modes,
truncation, seeding, the compiled step, validation."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from continuous_cartpole import CartPoleVectorEnv
from continuous_cartpole.physics import has_failed
from continuous_cartpole.torch_vector import TorchCartPoleVectorEnv, make_torch_vector_env

AutoresetMode = gym.vector.AutoresetMode

torch.set_num_threads(1)

NUM_ENVS = 32


def random_actions(rng: np.random.Generator, continuous: bool, num_envs: int = NUM_ENVS) -> np.ndarray:
    if continuous:  # out-of-range values too, which both envs clip
        return rng.uniform(-1.5, 1.5, (num_envs, 1)).astype(np.float32)
    return rng.integers(0, 2, num_envs)


def run_side_by_side(continuous: bool, torch_dtype: torch.dtype, numpy_dtype: type, steps: int, **kwargs) -> float:
    """Step both envs with the same actions; restarted sub-envs get the torch env's start state in both.

    Asserts identical rewards and flags on every step; returns the largest state difference seen.
    """
    torch_env = TorchCartPoleVectorEnv(NUM_ENVS, continuous=continuous, dtype=torch_dtype, **kwargs)
    numpy_env = CartPoleVectorEnv(NUM_ENVS, continuous=continuous, dtype=numpy_dtype, **kwargs)
    torch_env.reset(seed=3)
    numpy_env.reset(seed=3)
    numpy_env.state = torch_env.state.numpy().copy()
    rng = np.random.default_rng(0)
    largest, restarts, ends = 0.0, 0, 0
    for _ in range(steps):
        actions = random_actions(rng, continuous)
        restarted = numpy_env.prev_done.copy()
        obs_t, reward_t, terminated_t, truncated_t, info = torch_env.step(torch.as_tensor(actions))
        _, reward_n, terminated_n, truncated_n, _ = numpy_env.step(actions)
        assert info == {}
        np.testing.assert_array_equal(reward_t.numpy(), reward_n)
        np.testing.assert_array_equal(terminated_t.numpy(), terminated_n)
        np.testing.assert_array_equal(truncated_t.numpy(), truncated_n)
        np.testing.assert_array_equal(torch_env.steps.numpy(), numpy_env.steps)
        live = ~restarted
        if live.any():
            difference = np.abs(torch_env.state.numpy()[:, live] - numpy_env.state[:, live]).max()
            largest = max(largest, float(difference))
        assert torch.equal(obs_t, torch_env.state.T.to(torch.float32))
        numpy_env.state[:, restarted] = torch_env.state.numpy()[:, restarted]
        restarts += int(restarted.sum())
        ends += int((terminated_n | truncated_n).sum())
    assert restarts > NUM_ENVS and ends > NUM_ENVS  # the comparison went through many autoresets
    return largest


@pytest.mark.parametrize("continuous", [True, False])
def test_float32_physics_matches_numpy_env(continuous: bool) -> None:
    largest = run_side_by_side(continuous, torch.float32, np.float32, steps=300)
    assert largest < 5e-5


@pytest.mark.parametrize("continuous", [True, False])
def test_float64_matches_numpy_env_to_1e_12(continuous: bool) -> None:
    largest = run_side_by_side(continuous, torch.float64, np.float64, steps=300)
    assert largest < 1e-12


def test_truncation_and_physics_options_match_numpy_env() -> None:
    largest = run_side_by_side(
        False, torch.float64, np.float64, steps=60, max_episode_steps=7, kinematics_integrator="semi-implicit euler"
    )
    assert largest < 1e-12


def test_next_step_autoreset_after_truncation() -> None:
    env = TorchCartPoleVectorEnv(4, continuous=True, max_episode_steps=3)
    env.reset(seed=0)
    zero = torch.zeros((4, 1))
    for _ in range(2):
        _, reward, terminated, truncated, _ = env.step(zero)
        assert not truncated.any() and not terminated.any()
    _, reward, terminated, truncated, _ = env.step(zero)
    assert truncated.all() and not terminated.any() and torch.equal(reward, torch.ones(4))
    obs, reward, terminated, truncated, _ = env.step(torch.ones((4, 1)))  # the action is ignored on the reset step
    assert torch.equal(reward, torch.zeros(4)) and not terminated.any() and not truncated.any()
    assert obs.abs().max() <= 0.05 and torch.equal(env.steps, torch.zeros(4, dtype=torch.int64))


def test_every_autoreset_draws_a_new_start_state() -> None:
    env = TorchCartPoleVectorEnv(4, continuous=False, max_episode_steps=1)  # a reset every second step: the most
    env.reset(seed=0)
    starts = []
    for _ in range(100):
        obs, reward, *_ = env.step(torch.ones(4, dtype=torch.int64))
        starts += [tuple(row) for row, restarted in zip(obs.tolist(), (reward == 0).tolist(), strict=True) if restarted]
    assert len(starts) == 200 and len(set(starts)) == 200
    assert max(abs(value) for start in starts for value in start) <= 0.05


def test_termination_pays_failure_reward_then_resets() -> None:
    env = TorchCartPoleVectorEnv(2, continuous=False, failure_reward=-1.0)
    env.reset(seed=0)
    env.state[2] = torch.tensor([0.5, 0.0])  # sub-env 0 is past the 20 degree threshold
    _, reward, terminated, truncated, _ = env.step(torch.tensor([1, 1]))
    assert terminated.tolist() == [True, False] and not truncated.any()
    assert reward.tolist() == [-1.0, 1.0]
    obs, reward, terminated, _, _ = env.step(torch.tensor([1, 1]))
    assert reward[0] == 0.0 and not terminated[0] and obs[0].abs().max() <= 0.05


def test_dtypes_shapes_and_fresh_tensors() -> None:
    env = TorchCartPoleVectorEnv(5, continuous=False, dtype=torch.float64)
    obs, info = env.reset(seed=1)
    assert obs.shape == (5, 4) and obs.dtype == torch.float32 and info == {}
    obs.fill_(7.0)  # the returned observation must not alias the env's state
    assert env.state.abs().max() <= 0.05
    obs, reward, terminated, truncated, _ = env.step(torch.ones(5, dtype=torch.int64))
    assert reward.shape == (5,) and reward.dtype == torch.float32
    assert terminated.dtype == torch.bool and truncated.dtype == torch.bool and terminated.shape == (5,)
    assert env.observation_space.shape == (5, 4) and env.action_space.shape == (5,)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP


def rollout_observations(env: TorchCartPoleVectorEnv, seed: int | None, steps: int = 40) -> torch.Tensor:
    generator = torch.Generator().manual_seed(5)
    obs, _ = env.reset(seed=seed)
    history = [obs]
    for _ in range(steps):
        obs, *_ = env.step(torch.randint(0, 2, (env.num_envs,), generator=generator))
        history.append(obs)
    return torch.stack(history)


def test_seeded_determinism() -> None:
    first = rollout_observations(TorchCartPoleVectorEnv(8, continuous=False), seed=11)
    second = rollout_observations(TorchCartPoleVectorEnv(8, continuous=False), seed=11)
    other = rollout_observations(TorchCartPoleVectorEnv(8, continuous=False), seed=12)
    assert torch.equal(first, second)
    assert not torch.equal(first[0], other[0])
    env = TorchCartPoleVectorEnv(8, continuous=False)
    env.reset(seed=11)
    continued, _ = env.reset()  # seed=None continues the seeded stream
    assert not torch.equal(continued, first[0])


def test_reset_options_set_the_start_interval() -> None:
    env = TorchCartPoleVectorEnv(1000)
    obs, _ = env.reset(seed=0, options={"low": 0.1, "high": 0.2})
    assert obs.min() >= 0.1 and obs.max() <= 0.2
    with pytest.raises(ValueError, match="low"):
        env.reset(options={"low": 0.3, "high": 0.2})


def test_action_validation_errors_leave_state_unchanged() -> None:
    env = TorchCartPoleVectorEnv(3, continuous=True)
    env.reset(seed=0)
    before = env.state.clone()
    bad_actions = [
        (torch.zeros(3), ValueError, "shape"),
        (torch.tensor([[0.0], [float("nan")], [0.0]]), ValueError, "finite"),
        (torch.zeros((3, 1), dtype=torch.bool), TypeError, "real"),
        (np.zeros((3, 1), dtype=np.float32), TypeError, "torch.Tensor"),
        (torch.zeros((3, 1), device="meta"), ValueError, "device"),
    ]
    for actions, error, message in bad_actions:
        with pytest.raises(error, match=message):
            env.step(actions)
    assert torch.equal(env.state, before)

    discrete = TorchCartPoleVectorEnv(3, continuous=False)
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match="0 or 1"):
        discrete.step(torch.tensor([0, 2, 1]))
    with pytest.raises(gym.error.ResetNeeded):
        TorchCartPoleVectorEnv(2, continuous=False).step(torch.tensor([0, 1]))


def test_validation_switch_skips_value_checks() -> None:
    env = TorchCartPoleVectorEnv(2, continuous=True, validate_actions=False)
    env.reset(seed=0)
    env.step(torch.tensor([[float("nan")], [0.0]]))  # no check: the NaN reaches the state, as documented
    assert torch.isnan(env.state[:, 0]).any() and torch.isfinite(env.state[:, 1]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 0}, "num_envs"),
        ({"num_envs": 2, "max_episode_steps": 0}, "max_episode_steps"),
        ({"num_envs": 2, "dtype": torch.float16}, "dtype"),
        ({"num_envs": 2, "masscart": -1.0}, "masscart"),
    ],
)
def test_constructor_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TorchCartPoleVectorEnv(**kwargs)


class HostReadRecorder(TorchDispatchMode):
    """Records the aten ops that read tensor data on the host: item()/bool() and data-dependent shapes."""

    SYNCING = ("aten._local_scalar_dense", "aten.nonzero", "aten.masked_select", "aten.unique")

    def __init__(self) -> None:
        super().__init__()
        self.syncing: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = str(func)
        bool_index = name.startswith("aten.index.Tensor") and any(
            isinstance(index, torch.Tensor) and index.dtype == torch.bool for index in args[1]
        )
        if name.startswith(self.SYNCING) or bool_index:
            self.syncing.append(name)
        return func(*args, **(kwargs or {}))


PER_SUB_ENV = {"randomize": {"length": (0.25, 1.0), "force_mag": (5.0, 15.0)}, "gravity": np.linspace(5, 15, 16)}


@pytest.mark.parametrize("physics", [{}, PER_SUB_ENV], ids=["shared", "per-sub-env-and-randomized"])
@pytest.mark.parametrize("mode", list(AutoresetMode))
@pytest.mark.parametrize("continuous", [True, False])
def test_step_without_validation_reads_nothing_on_the_host(continuous: bool, mode: AutoresetMode, physics) -> None:
    env = TorchCartPoleVectorEnv(
        16, continuous=continuous, max_episode_steps=5, validate_actions=False, autoreset_mode=mode, **physics
    )
    env.reset(seed=0)
    actions = torch.zeros((16, 1)) if continuous else torch.ones(16, dtype=torch.int64)
    with HostReadRecorder() as recorder:
        for _ in range(12):  # through truncations and autoresets
            _, _, terminated, truncated, _ = env.step(actions)
            if mode == AutoresetMode.DISABLED:
                env.reset(options={"reset_mask": terminated | truncated})
    assert recorder.syncing == []
    with HostReadRecorder() as recorder:  # the recorder does see the validating read
        validating = TorchCartPoleVectorEnv(16, continuous=continuous)
        validating.reset(seed=0)
        validating.step(actions)
    assert "aten._local_scalar_dense.default" in recorder.syncing


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_cuda_step_does_not_synchronise(mode: AutoresetMode) -> None:
    env = TorchCartPoleVectorEnv(
        1024, continuous=False, device="cuda", max_episode_steps=5, validate_actions=False, autoreset_mode=mode
    )
    env.reset(seed=0)
    actions = torch.ones(1024, dtype=torch.int64, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(12):
            obs, _, terminated, truncated, _ = env.step(actions)
            if mode == AutoresetMode.DISABLED:
                env.reset(options={"reset_mask": terminated | truncated})
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert obs.device.type == "cuda"


def test_make_torch_vector_env_reads_the_registered_spec() -> None:
    env = make_torch_vector_env("continuous_cartpole:DiscreteCartPole-v0", 3)
    assert not env.continuous and env.max_episode_steps == 500 and env.num_envs == 3
    assert make_torch_vector_env("ContinuousCartPole-v0", 2, dtype=torch.float64).continuous
    with pytest.raises(ValueError, match="no torch"):
        make_torch_vector_env("CartPole-v1", 2)
    with pytest.raises(gym.error.Error):
        make_torch_vector_env("NoSuchCartPole-v0", 2)


def test_importing_the_env_package_does_not_import_torch() -> None:
    code = "import sys, continuous_cartpole; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def controller_force(obs: np.ndarray) -> np.ndarray:
    """A linear controller that keeps the pole up for 500 steps: force in newtons per row of observations."""
    return obs @ np.array([1.0, 1.6, 18.0, 3.0])


def mixed_actions(obs: np.ndarray, rng: np.random.Generator, continuous: bool) -> np.ndarray:
    """Even sub-envs follow the controller (truncations), odd ones act at random (terminations)."""
    force = controller_force(obs.astype(np.float64))
    random = rng.uniform(-10.0, 10.0, len(obs))
    force = np.where(np.arange(len(obs)) % 2 == 0, force, random)
    if continuous:
        return np.clip(force / 10.0, -1.0, 1.0).astype(np.float32)[:, None]
    return (force > 0).astype(np.int64)


def copy_start_states(
    reference: gym.vector.SyncVectorEnv, torch_env: TorchCartPoleVectorEnv, which: np.ndarray
) -> None:
    """Give the reference's freshly reset sub-envs the torch env's start states (the random streams differ)."""
    for i in np.flatnonzero(which):
        reference.envs[i].unwrapped.state = tuple(torch_env.state[:, i].tolist())


@pytest.mark.parametrize("continuous", [True, False])
@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_autoreset_modes_match_gymnasium_sync_vector_env(mode: AutoresetMode, continuous: bool) -> None:
    """Step for step against SyncVectorEnv over gym.make of our single env, through terminations and truncations."""
    env_id = "ContinuousCartPole-v0" if continuous else "DiscreteCartPole-v0"
    num_envs = 6
    torch_env = make_torch_vector_env(env_id, num_envs, dtype=torch.float64, autoreset_mode=mode.value)
    reference = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(num_envs)], autoreset_mode=mode)
    assert torch_env.autoreset_mode == mode and torch_env.metadata["autoreset_mode"] == mode
    torch_obs, _ = torch_env.reset(seed=0)
    reference.reset(seed=0)
    copy_start_states(reference, torch_env, np.ones(num_envs, dtype=bool))
    rng = np.random.default_rng(0)
    restarting = np.zeros(num_envs, dtype=bool)
    terminations = truncations = 0
    for _ in range(1100):
        actions = mixed_actions(torch_obs.numpy(), rng, continuous)
        torch_obs, reward, terminated, truncated, info = torch_env.step(torch.as_tensor(actions))
        ref_obs, ref_reward, ref_terminated, ref_truncated, ref_info = reference.step(actions)
        np.testing.assert_array_equal(terminated.numpy(), ref_terminated)
        np.testing.assert_array_equal(truncated.numpy(), ref_truncated)
        np.testing.assert_array_equal(reward.numpy(), ref_reward.astype(np.float32))
        done = ref_terminated | ref_truncated
        reset_now = restarting if mode == AutoresetMode.NEXT_STEP else np.zeros(num_envs, dtype=bool)
        if mode == AutoresetMode.SAME_STEP:
            reset_now = done
            np.testing.assert_array_equal(info["_final_obs"].numpy(), done)
            if done.any():
                final = np.stack(ref_info["final_obs"][done])
                np.testing.assert_allclose(info["final_obs"].numpy()[done], final, rtol=0, atol=1e-6)
        else:
            assert info == {}
        live = ~reset_now
        np.testing.assert_allclose(torch_obs.numpy()[live], ref_obs[live], rtol=0, atol=1e-6)
        if mode == AutoresetMode.DISABLED and done.any():
            torch_obs, _ = torch_env.reset(options={"reset_mask": torch.as_tensor(done)})
            reference.reset(options={"reset_mask": done})
            reset_now = done
        assert np.all(np.abs(torch_obs.numpy()[reset_now]) <= 0.05)  # fresh start states
        copy_start_states(reference, torch_env, reset_now)
        restarting = done
        terminations += int(ref_terminated.sum())
        truncations += int(ref_truncated.sum())
    assert terminations > 20 and truncations >= 6  # many episode ends of both kinds went through the comparison


def test_reset_mask_resets_only_the_masked_sub_envs() -> None:
    env = TorchCartPoleVectorEnv(4, continuous=False, autoreset_mode=AutoresetMode.DISABLED)
    env.reset(seed=0)
    for _ in range(3):
        env.step(torch.ones(4, dtype=torch.int64))
    before, steps_before = env.state.clone(), env.steps.clone()
    mask = torch.tensor([True, False, True, False])
    obs, info = env.reset(options={"reset_mask": mask})
    assert info == {} and torch.equal(env.state[:, 1], before[:, 1]) and torch.equal(env.state[:, 3], before[:, 3])
    assert not torch.equal(env.state[:, 0], before[:, 0]) and obs[mask].abs().max() <= 0.05
    assert env.steps.tolist() == [0, steps_before[1].item(), 0, steps_before[3].item()]
    for bad, error in [(np.ones(4, dtype=bool), TypeError), (torch.ones(3, dtype=torch.bool), ValueError)]:
        with pytest.raises(error, match="reset_mask must be a bool tensor of shape"):
            env.reset(options={"reset_mask": bad})
    with pytest.raises(gym.error.ResetNeeded):
        TorchCartPoleVectorEnv(4).reset(options={"reset_mask": mask})


def test_disabled_mode_warns_once_when_an_ended_episode_is_stepped_and_pays_nothing_for_failing_again() -> None:
    env = TorchCartPoleVectorEnv(2, continuous=False, max_episode_steps=200, autoreset_mode="Disabled")
    env.reset(seed=0)
    env.state = env.state[:, :1].repeat(1, 2)  # both sub-envs the same: they fail on the same step
    push = torch.ones(2, dtype=torch.int64)
    terminated = torch.zeros(2, dtype=torch.bool)
    while not terminated.any():
        _, _, terminated, _, _ = env.step(push)
    with pytest.warns(UserWarning, match=r"sub-envs \[0, 1\] are stepped after their episode ended.*reset_mask"):
        _, reward, terminated, _, _ = env.step(push)
    assert terminated.all() and (reward == 0.0).all()  # failing again pays nothing, as in the NumPy env
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env.step(push)  # warned once
        env.reset(options={"reset_mask": torch.tensor([True, True])})
        _, reward, terminated, _, _ = env.step(push)
    assert not terminated.any() and (reward == 1.0).all()


def test_autoreset_mode_errors_and_per_instance_metadata() -> None:
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        TorchCartPoleVectorEnv(2, autoreset_mode="Sometimes")
    env = TorchCartPoleVectorEnv(2, autoreset_mode=AutoresetMode.SAME_STEP)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert TorchCartPoleVectorEnv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP


def test_compiled_step_matches_eager_step() -> None:
    """compile=True gives the eager results to float32 rounding, with identical flags, through autoresets."""
    kwargs = {"continuous": False, "max_episode_steps": 15, "autoreset_mode": AutoresetMode.SAME_STEP}
    with torch._dynamo.config.patch(recompile_limit=1):  # each env compiles its own code: no shared limit
        TorchCartPoleVectorEnv(8, compile=True, **{**kwargs, "max_episode_steps": 16})
        fused = TorchCartPoleVectorEnv(8, compile=True, **kwargs)
    eager = TorchCartPoleVectorEnv(8, **kwargs)
    assert fused.compile_seconds is not None and fused.compile_seconds > 0 and eager.compile_seconds is None
    torch.testing.assert_close(fused.reset(seed=4)[0], eager.reset(seed=4)[0], rtol=0, atol=0)
    generator = torch.Generator().manual_seed(0)
    ends = 0
    for _ in range(40):
        actions = torch.randint(0, 2, (8,), generator=generator)
        fused_step, eager_step = fused.step(actions), eager.step(actions)
        for fused_value, eager_value in zip(fused_step[:4], eager_step[:4], strict=True):
            torch.testing.assert_close(fused_value, eager_value, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(fused_step[4], eager_step[4], rtol=1e-5, atol=1e-6)
        ends += int(eager_step[4]["_final_obs"].sum())
    assert ends > 8


def test_actions_that_require_grad_are_refused() -> None:
    env = TorchCartPoleVectorEnv(2, continuous=True)
    env.reset(seed=0)
    actions = torch.zeros((2, 1), requires_grad=True)
    with pytest.raises(ValueError, match=r"actions require grad.*actions\.detach\(\)"):
        env.step(actions)
    obs, *_ = env.step(actions.detach())
    assert not obs.requires_grad


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:3", torch.device("cuda")])
def test_cuda_without_a_gpu_is_a_one_line_error(device: str | torch.device) -> None:
    with pytest.raises(ValueError, match=r"no CUDA device available; use device='cpu'"):
        TorchCartPoleVectorEnv(2, device=device)


def test_unknown_device_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="device must name a torch device"):
        TorchCartPoleVectorEnv(2, device="gpu")


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_non_finite_state_warns_when_validating(mode: AutoresetMode) -> None:
    env = TorchCartPoleVectorEnv(3, continuous=False, autoreset_mode=mode)
    env.reset(seed=0)
    env.state[:, 1] = float("nan")  # a state set by hand
    with pytest.warns(UserWarning, match=r"sub-envs \[1\] reached a non-finite state"):
        _, _, terminated, _, _ = env.step(torch.ones(3, dtype=torch.int64))
    nan = torch.tensor(float("nan"))
    assert terminated.tolist() == [False, bool(has_failed(env.params, nan, nan)), False]  # the physics rule decides

    quiet = TorchCartPoleVectorEnv(3, continuous=False, autoreset_mode=mode, validate_actions=False)
    quiet.reset(seed=0)
    quiet.state[:, 1] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet.step(torch.ones(3, dtype=torch.int64))  # unchecked: no host read, so no warning


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_physics_blocks_join_like_one_batch(mode: AutoresetMode) -> None:
    """The CPU path steps large batches in blocks; small blocks here must give exactly the one-block results."""
    whole = TorchCartPoleVectorEnv(10, continuous=False, max_episode_steps=6, autoreset_mode=mode)
    blocked = TorchCartPoleVectorEnv(10, continuous=False, max_episode_steps=6, autoreset_mode=mode)
    blocked._block = 4  # blocks of 4, 4 and 2 sub-envs
    whole.reset(seed=2)
    blocked.reset(seed=2)
    for step in range(14):
        actions = torch.tensor([step % 2] * 5 + [1] * 5)
        *one, one_info = whole.step(actions)
        *other, other_info = blocked.step(actions)
        assert all(torch.equal(a, b) for a, b in zip(one, other, strict=True))
        assert one_info.keys() == other_info.keys()
        assert all(torch.equal(one_info[key], other_info[key]) for key in one_info)
        if mode == AutoresetMode.DISABLED and whole.prev_done.any():  # an empty mask is refused
            mask = whole.prev_done.clone()
            whole.reset(options={"reset_mask": mask})
            blocked.reset(options={"reset_mask": mask})
    assert torch.equal(whole.state, blocked.state) and torch.equal(whole.steps, blocked.steps)
