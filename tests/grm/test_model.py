"""The GRM network: shapes, the view mask, the observation -> tensor conversion, the config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robo_reward.grm.model import GRM, ROLES, GRMConfig, check_views, views_to_tensor

BATCH = 5


def random_batch(config: GRMConfig, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    size, views = config.image_size, len(config.views)
    images = torch.randint(
        0, 256, (BATCH, len(ROLES), views, size, size, 3), generator=generator, dtype=torch.uint8
    )
    return images, torch.ones(BATCH, len(ROLES), views, dtype=torch.bool)


def test_output_shapes(tiny_grm: GRM, grm_config: GRMConfig) -> None:
    images, mask = random_batch(grm_config)
    hop_logits, completion_logits = tiny_grm(images, mask)
    assert hop_logits.shape == (BATCH, grm_config.num_bins)
    assert completion_logits.shape == (BATCH,)
    embeddings = tiny_grm.encode(images)
    assert embeddings.shape == (BATCH, len(ROLES), len(grm_config.views), grm_config.embed_dim)
    assert tiny_grm.grip_head(embeddings).shape[-1] == 3
    # forward = head(encode): the split the tracker relies on.
    head_hop, head_completion = tiny_grm.head(embeddings, mask)
    torch.testing.assert_close(head_hop, hop_logits)
    torch.testing.assert_close(head_completion, completion_logits)


def test_predict_hop_is_a_hop_and_a_probability(tiny_grm: GRM, grm_config: GRMConfig) -> None:
    images, mask = random_batch(grm_config)
    tiny_grm.train()
    hop, completion = tiny_grm.predict_hop(images, mask)
    assert tiny_grm.training, "predict_hop must restore the training mode"
    assert hop.shape == completion.shape == (BATCH,)
    assert not hop.requires_grad
    assert ((hop >= -1) & (hop <= 1)).all()
    assert ((completion >= 0) & (completion <= 1)).all()


def test_encoder_embeds_each_image_independently(tiny_grm: GRM, grm_config: GRMConfig) -> None:
    images, _ = random_batch(grm_config)
    together = tiny_grm.encode(images[:2])
    alone = tiny_grm.encode(images[1:2])
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-5)


def test_encoder_stem_folds_pixel_scaling_exactly(tiny_grm: GRM, grm_config: GRMConfig) -> None:
    """The stem convolution absorbs the /255 and centring; the result must equal the textbook
    normalise-then-convolve, and gradients must still reach the stem's own weights."""
    images, _ = random_batch(grm_config)
    flat = images.flatten(0, 2)[:8]
    encoder = tiny_grm.encoder
    x = flat.permute(0, 3, 1, 2).float() / 255.0 - encoder.mean
    expected = encoder.project(encoder.conv(x))
    torch.testing.assert_close(encoder(flat), expected, atol=1e-5, rtol=1e-5)
    encoder(flat).sum().backward()
    assert encoder.conv[0].weight.grad is not None and encoder.conv[0].weight.grad.abs().sum() > 0


def masked_example(config: GRMConfig) -> tuple[torch.Tensor, torch.Tensor]:
    images, mask = random_batch(config)
    mask[0, 2, 1] = False  # a BEFORE image missing: view 1 drops out of pair 0
    mask[1, :, 2] = False  # a camera missing for every role
    mask[2, 0, 0] = False  # a reference start image missing
    mask[3, 3, 0] = False  # an AFTER image missing
    mask[4, 1, :] = False  # the whole reference end missing
    return images, mask


@pytest.mark.parametrize("training", [True, False])
def test_pixels_of_masked_images_do_not_matter(
    tiny_grm: GRM, grm_config: GRMConfig, training: bool
) -> None:
    images, mask = masked_example(grm_config)
    scrambled = images.clone()
    noise = torch.randint(0, 256, images.shape, generator=torch.Generator().manual_seed(9))
    scrambled[~mask] = noise.to(torch.uint8)[~mask]
    assert not torch.equal(images, scrambled)
    tiny_grm.train(training)
    for before, after in zip(tiny_grm(images, mask), tiny_grm(scrambled, mask), strict=True):
        assert torch.equal(before, after)


def test_pixels_of_present_images_do_matter(tiny_grm: GRM, grm_config: GRMConfig) -> None:
    """The converse of the masking test, so that it cannot pass on a model that ignores input."""
    images, mask = masked_example(grm_config)
    changed = images.clone()
    changed[:, 3, 0] = 255 - changed[:, 3, 0]  # every AFTER image of view 0
    hops, _ = tiny_grm(images, mask)
    changed_hops, _ = tiny_grm(changed, mask)
    # Pair 3 has no AFTER image of view 0; every other pair sees the change.
    assert torch.equal(hops[3], changed_hops[3])
    for pair in (0, 1, 2, 4):
        assert not torch.equal(hops[pair], changed_hops[pair])


def test_removing_a_view_changes_outputs_but_stays_finite(
    tiny_grm: GRM, grm_config: GRMConfig
) -> None:
    images, mask = random_batch(grm_config)
    full_hop, full_completion = tiny_grm.predict_hop(images, mask)
    for view in range(len(grm_config.views)):
        fewer = mask.clone()
        fewer[:, :, view] = False
        hop, completion = tiny_grm.predict_hop(images, fewer)
        assert torch.isfinite(hop).all() and torch.isfinite(completion).all()
        assert not torch.allclose(hop, full_hop)
        assert not torch.allclose(completion, full_completion)


def test_no_pair_view_at_all_still_gives_finite_outputs(
    tiny_grm: GRM, grm_config: GRMConfig
) -> None:
    images, mask = random_batch(grm_config)
    mask[:, 2:] = False
    hop_logits, completion_logits = tiny_grm(images, mask)
    assert torch.isfinite(hop_logits).all() and torch.isfinite(completion_logits).all()


# ----------------------------------------------------------------------------- views_to_tensor


def image(config: GRMConfig, value: int = 7) -> np.ndarray:
    return np.full((config.image_size, config.image_size, 3), value, dtype=np.uint8)


def test_views_to_tensor_orders_views_and_masks_missing_ones(grm_config: GRMConfig) -> None:
    observation = {"wrist": image(grm_config, 3), "front": image(grm_config, 1)}
    images, mask = views_to_tensor(observation, grm_config)
    size = grm_config.image_size
    assert images.shape == (3, size, size, 3) and images.dtype == torch.uint8
    assert mask.tolist() == [True, False, True]  # config order: front, side, wrist
    assert int(images[0].max()) == 1 and int(images[2].max()) == 3
    assert int(images[1].abs().max()) == 0


def test_views_to_tensor_accepts_read_only_arrays(grm_config: GRMConfig) -> None:
    frozen = image(grm_config)
    frozen.setflags(write=False)
    images, mask = views_to_tensor({"side": frozen}, grm_config)
    assert mask.tolist() == [False, True, False]
    assert int(images[1, 0, 0, 0]) == 7


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda c: {"front": image(c).astype(np.float32)}, "uint8"),
        (lambda c: {"front": image(c).astype(np.int64)}, "uint8"),
        (lambda c: {"front": np.zeros((16, 16, 3), np.uint8)}, "shape"),
        (lambda c: {"front": np.zeros((c.image_size, c.image_size), np.uint8)}, "shape"),
        (lambda c: {"front": np.zeros((c.image_size, c.image_size, 4), np.uint8)}, "shape"),
        (lambda c: {"front": image(c), "top": image(c)}, "unknown view"),
        (lambda c: {}, "no camera image"),
    ],
    ids=["float", "int64", "size", "gray", "rgba", "unknown-view", "empty"],
)
def test_views_to_tensor_rejects_bad_observations(grm_config: GRMConfig, make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        views_to_tensor(make(grm_config), grm_config)


def test_views_to_tensor_error_names_the_view(grm_config: GRMConfig) -> None:
    with pytest.raises(ValueError, match="'wrist'"):
        views_to_tensor({"front": image(grm_config), "wrist": image(grm_config)[:, :8]}, grm_config)


def test_check_views(grm_config: GRMConfig) -> None:
    check_views(["front", "wrist"], grm_config)
    with pytest.raises(ValueError, match="top"):
        check_views(["front", "top"], grm_config)


# ----------------------------------------------------------------------------- GRMConfig


def test_default_config_is_valid_and_frozen() -> None:
    config = GRMConfig()
    assert config.num_bins == 25 and config.views == ("front", "side", "wrist")
    with pytest.raises(AttributeError):
        config.embed_dim = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"views": ()}, "views"),
        ({"views": ("front", "front")}, "views"),
        ({"image_size": 40}, "image_size"),
        ({"image_size": 16}, "image_size"),
        ({"embed_dim": 30, "fusion_heads": 4}, "divisible"),
        ({"num_bins": 24}, "num_bins"),
        ({"num_bins": 1}, "num_bins"),
    ],
)
def test_config_rejects_invalid_architectures(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GRMConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fusion_heads": 0},
        {"channels": (8, 12, 32)},
        {"channels": (0, 16, 32)},
        {"embed_dim": 0, "fusion_heads": 1},
    ],
    ids=["zero-heads", "groupnorm-channels", "zero-channels", "zero-embed"],
)
def test_config_rejects_unbuildable_widths(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        GRMConfig(**kwargs)


def test_model_size_follows_config() -> None:
    small = GRM(GRMConfig(image_size=32, embed_dim=32, channels=(8, 16, 32), fusion_heads=2))
    large = GRM(GRMConfig(image_size=64, embed_dim=32, channels=(8, 16, 32), fusion_heads=2))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(large) > count(small)
