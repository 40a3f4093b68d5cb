"""The torch env's start states follow the documented stream: 15 bits per variable from 31-bit integer draws."""

from __future__ import annotations

import torch

from continuous_cartpole.torch_vector import START_BITS, TorchCartPoleVectorEnv, start_states


def test_reset_states_are_the_documented_function_of_the_seeded_generator():
    env = TorchCartPoleVectorEnv(64, continuous=False, dtype=torch.float64)
    env.reset(seed=3, options={"low": -0.2, "high": 0.1})
    bits = torch.empty((2, 64), dtype=torch.int32).random_(generator=torch.Generator().manual_seed(3))
    low, span = torch.tensor(-0.2, dtype=torch.float64), torch.tensor(0.1 - -0.2, dtype=torch.float64)
    assert torch.equal(env.state, torch.stack(start_states(bits, low, span)))
    # x and x_dot share row 0 of the draws, theta and theta_dot row 1
    cells = (env.state - low) / span * 2**START_BITS - 0.5
    assert torch.allclose(cells, cells.round(), atol=1e-6)
    assert torch.equal(cells.round()[0].long(), (bits[0] & 0x7FFF).long())
    assert torch.equal(cells.round()[1].long(), ((bits[0] >> 16) & 0x7FFF).long())


def test_start_states_fill_the_interval_without_reaching_its_ends():
    bits = torch.empty((2, 2**14), dtype=torch.int32).random_(generator=torch.Generator().manual_seed(0))
    rows = torch.stack(start_states(bits, torch.tensor(-0.05), torch.tensor(0.1)))
    assert ((rows > -0.05) & (rows < 0.05)).all()
    assert (rows.min(dim=1).values < -0.0499).all() and (rows.max(dim=1).values > 0.0499).all()
    assert rows.mean(dim=1).abs().max() < 0.002  # four variables, each centred on 0
    assert torch.corrcoef(rows).fill_diagonal_(0).abs().max() < 0.05  # the halves of a draw are independent


def test_autoreset_start_states_are_fresh_and_deterministic_under_a_seed():
    def run() -> list[torch.Tensor]:
        env = TorchCartPoleVectorEnv(16, continuous=False, max_episode_steps=3)
        env.reset(seed=7)
        return [env.step(torch.ones(16, dtype=torch.int64))[0] for _ in range(8)]

    first, second = run(), run()
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    restarts = [first[3], first[7]]  # NEXT_STEP: truncated at steps 3 and 7 (0-based 2 and 6), restarted after
    assert not torch.equal(restarts[0], restarts[1])
    assert ((restarts[0].abs() < 0.05) & (restarts[1].abs() < 0.05)).all()
