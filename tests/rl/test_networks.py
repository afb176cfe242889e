"""Network blocks: MLP layout, the critic ensemble layer, the observation encoder, and the
running observation statistics."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from robo_reward.rl.networks import ObservationEncoder, VectorizedLinear, ensemble_mlp, mlp
from robo_reward.rl.normalize import ObservationNormalizer, RunningMeanStd


def goal_space(image: tuple[int, int] | None = None) -> spaces.Dict:
    entries = OrderedDict(
        state=spaces.Box(-np.inf, np.inf, (4,), np.float32),
        achieved_goal=spaces.Box(-1, 1, (2,), np.float32),
        desired_goal=spaces.Box(-1, 1, (2,), np.float32),
    )
    if image is not None:
        entries["front"] = spaces.Box(0, 255, (*image, 3), np.uint8)
    return spaces.Dict(entries)


def test_mlp_layout_and_shapes() -> None:
    net = mlp(5, 3, (16, 8))
    assert [type(m) for m in net] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert net(torch.zeros(7, 5)).shape == (7, 3)
    assert set(net.state_dict()) == {f"{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}


@pytest.mark.parametrize("out_features", [1, 6])
def test_vectorized_linear_matches_independent_layers(out_features: int) -> None:
    torch.manual_seed(0)
    layer = VectorizedLinear(5, out_features, ensemble_size=3)
    x = torch.randn(4, 5)
    shared = layer(x)
    assert shared.shape == (3, 4, out_features)
    for member in range(3):
        expected = x @ layer.weight[member] + layer.bias[member]
        torch.testing.assert_close(shared[member], expected)
    stacked = torch.randn(3, 4, 5)
    out = layer(stacked)
    torch.testing.assert_close(out[1], stacked[1] @ layer.weight[1] + layer.bias[1])
    out.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.shape == layer.weight.shape


def test_ensemble_members_are_initialised_differently() -> None:
    torch.manual_seed(0)
    net = ensemble_mlp(4, 1, (8,), ensemble_size=2)
    out = net(torch.randn(10, 4))
    assert out.shape == (2, 10, 1)
    assert not torch.allclose(out[0], out[1])


def test_box_encoder_flattens() -> None:
    encoder = ObservationEncoder(spaces.Box(-1, 1, (2, 3), np.float32))
    assert encoder.out_dim == 6
    x = torch.arange(12, dtype=torch.float32).reshape(2, 2, 3)
    torch.testing.assert_close(encoder(x), x.reshape(2, 6))
    assert not list(encoder.parameters())


def test_dict_encoder_concatenates_in_the_given_key_order() -> None:
    encoder = ObservationEncoder(goal_space(), keys=("desired_goal", "state"))
    assert encoder.out_dim == 6
    obs = {
        "state": torch.full((2, 4), 1.0),
        "desired_goal": torch.full((2, 2), 2.0),
        "achieved_goal": torch.full((2, 2), 3.0),
    }
    expected = torch.tensor([[2.0, 2.0, 1.0, 1.0, 1.0, 1.0]] * 2)
    torch.testing.assert_close(encoder(obs), expected)


def test_default_keys_are_every_key() -> None:
    encoder = ObservationEncoder(goal_space())
    assert encoder.keys == ("state", "achieved_goal", "desired_goal")
    assert encoder.out_dim == 8


def test_each_image_key_gets_its_own_cnn() -> None:
    space = goal_space(image=(40, 44))
    space.spaces["wrist"] = spaces.Box(0, 255, (36, 36, 3), np.uint8)
    encoder = ObservationEncoder(space, keys=("state", "front", "wrist"), cnn_features=16)
    assert set(encoder.cnns) == {"front", "wrist"}
    assert encoder.out_dim == 4 + 16 + 16
    obs = {
        "state": torch.zeros(3, 4),
        "front": torch.randint(0, 256, (3, 40, 44, 3), dtype=torch.uint8),
        "wrist": torch.randint(0, 256, (3, 36, 36, 3), dtype=torch.uint8),
    }
    out = encoder(obs)
    assert out.shape == (3, 36) and out.dtype == torch.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"keys": ("state", "nope")}, "nope"),
        ({"keys": ()}, "at least one"),
        ({"keys": "state"}, "sequence"),
        ({"keys": ("state", "state")}, "repeat"),
    ],
)
def test_encoder_key_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ObservationEncoder(goal_space(), **kwargs)


def test_encoder_rejects_keys_for_box_and_too_small_images() -> None:
    with pytest.raises(ValueError, match="Dict"):
        ObservationEncoder(spaces.Box(-1, 1, (3,)), keys=("a",))
    with pytest.raises(ValueError, match="at least 36"):
        ObservationEncoder(goal_space(image=(16, 16)))
    with pytest.raises(ValueError, match="Discrete"):
        ObservationEncoder(spaces.Discrete(3))


def test_running_mean_std_matches_numpy_over_batches() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(500, 3))
    stats = RunningMeanStd((3,))
    for chunk in np.array_split(data, 7):
        stats.update(torch.from_numpy(chunk))
    np.testing.assert_allclose(stats.mean.numpy(), data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.var.numpy(), data.var(0), rtol=1e-4)
    normalized = stats.normalize(torch.from_numpy(data))
    assert normalized.dtype == torch.float32
    np.testing.assert_allclose(normalized.numpy().mean(0), 0.0, atol=1e-3)
    assert float(stats.normalize(torch.full((1, 3), 1e6)).max()) == 10.0
    assert set(stats.state_dict()) == {"mean", "var", "count"}
    with pytest.raises(ValueError, match="shape"):
        stats.update(torch.zeros(4, 2))


def test_observation_normalizer_skips_images_and_round_trips_state() -> None:
    space = goal_space(image=(36, 36))
    normalizer = ObservationNormalizer(space, keys=("state", "desired_goal", "front"))
    assert set(normalizer.stats) == {"state", "desired_goal"}
    obs = {
        "state": torch.randn(64, 4) * 5 + 1,
        "desired_goal": torch.randn(64, 2),
        "front": torch.zeros(64, 36, 36, 3, dtype=torch.uint8),
    }
    normalizer.update(obs)
    out = normalizer(obs)
    assert out["front"] is obs["front"]
    assert abs(float(out["state"].mean())) < 1e-3
    clone = ObservationNormalizer(space, keys=("state", "desired_goal", "front"))
    clone.load_state_dict(normalizer.state_dict())
    torch.testing.assert_close(clone(obs)["state"], out["state"])
