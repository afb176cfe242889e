"""Image augmentation: shifts by whole pixels and colour jitter, from given parameters."""

from __future__ import annotations

import pytest
import torch

from robo_reward.grm.augment import PAD, augment_images

NEUTRAL = torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0])


def random_images(n: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, size, size, 3), generator=generator, dtype=torch.uint8)


def neutral(n: int) -> torch.Tensor:
    return NEUTRAL.expand(n, 5).clone()


def test_zero_shift_and_neutral_colour_is_the_identity() -> None:
    images = random_images()
    out = augment_images(images, torch.zeros(4, 2, dtype=torch.long), neutral(4))
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert torch.equal(out, images)


def test_identity_rows_stay_exact_next_to_shifted_ones() -> None:
    """Only the shifted image moves; zero-shift images in the same call are untouched."""
    images = random_images()
    shift = torch.tensor([[0, 0], [2, -3], [0, 0], [0, 0]])
    out = augment_images(images, shift, neutral(4))
    for i in (0, 2, 3):
        assert torch.equal(out[i], images[i])
    assert not torch.equal(out[1], images[1])


@pytest.mark.parametrize("shift", [(1, 0), (0, 1), (-1, 0), (3, -2), (-PAD, PAD), (PAD, PAD)])
def test_shift_moves_content_by_exactly_that_many_pixels(shift: tuple[int, int]) -> None:
    images = random_images(n=1)
    dr, dc = shift
    out = augment_images(images, torch.tensor([shift]), neutral(1))[0]
    # out[r, c] = in[r + dr, c + dc] wherever that source pixel is inside the image.
    size = images.shape[1]
    rows = slice(max(0, -dr), size - max(0, dr))
    cols = slice(max(0, -dc), size - max(0, dc))
    source = images[0, rows.start + dr : rows.stop + dr, cols.start + dc : cols.stop + dc]
    assert torch.equal(out[rows, cols], source)
    # Outside, the border pixels are replicated.
    if dr > 0:
        assert torch.equal(out[-1, cols], images[0, -1, cols.start + dc : cols.stop + dc])


def test_a_shifted_square_moves() -> None:
    image = torch.zeros(1, 32, 32, 3, dtype=torch.uint8)
    image[0, 10:14, 20:24] = 200
    out = augment_images(image, torch.tensor([[2, -3]]), neutral(1))[0]
    rows, cols = torch.nonzero(out[..., 0] == 200, as_tuple=True)
    assert (int(rows.min()), int(rows.max())) == (8, 11)
    assert (int(cols.min()), int(cols.max())) == (23, 26)
    assert int((out[..., 0] == 200).sum()) == 16


@pytest.mark.parametrize(
    "colour",
    [
        [0.08, 1.15, 1.08, 1.08, 1.08],
        [-0.08, 0.85, 0.92, 0.92, 0.92],
        [0.5, 3.0, 2.0, 0.0, 1.0],  # far outside the sampler's range: still clamped to uint8
        [-1.0, 1.0, 1.0, 1.0, 1.0],
    ],
)
def test_output_is_uint8_in_range(colour: list[float]) -> None:
    images = random_images()
    shift = torch.tensor([[1, 1], [-4, 0], [0, 4], [2, -2]])
    out = augment_images(images, shift, torch.tensor([colour]).expand(4, 5))
    assert out.dtype == torch.uint8 and out.shape == images.shape and out.is_contiguous()
    assert int(out.min()) >= 0 and int(out.max()) <= 255


def test_colour_jitter_does_what_its_parameters_say() -> None:
    images = torch.full((3, 8, 8, 3), 100, dtype=torch.uint8)
    colour = torch.tensor(
        [
            [0.1, 1.0, 1.0, 1.0, 1.0],  # brightness + 0.1 -> 100 + 25.5
            [0.0, 1.0, 0.5, 1.0, 2.0],  # channel gains 0.5, 1, 2
            [-1.0, 1.0, 1.0, 1.0, 1.0],  # black
        ]
    )
    out = augment_images(images, torch.zeros(3, 2, dtype=torch.long), colour)
    assert out[0].unique().tolist() == [126]
    assert out[1, 0, 0].tolist() == [50, 100, 200]
    assert out[2].unique().tolist() == [0]


def test_contrast_scales_around_the_mean() -> None:
    images = torch.zeros(1, 2, 2, 3, dtype=torch.uint8)
    images[0, 0] = 50
    images[0, 1] = 150  # mean 100
    out = augment_images(
        images, torch.zeros(1, 2, dtype=torch.long), torch.tensor([[0, 2.0, 1, 1, 1]])
    )
    assert out[0, 0].unique().tolist() == [0] and out[0, 1].unique().tolist() == [200]


def test_empty_batch() -> None:
    empty = torch.zeros(0, 32, 32, 3, dtype=torch.uint8)
    out = augment_images(empty, torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, 5))
    assert out.shape == (0, 32, 32, 3)
