"""A self-supervised image embedding: the multi-view time-contrastive network (TCN).

Reference: Sermanet, Lynch, Chebotar, Hsu, Jang, Schaal, Levine, "Time-Contrastive Networks:
Self-Supervised Learning from Video" (ICRA 2018). Two cameras filming the same moment must map
to nearby embeddings, while the same camera a little later must not; the embedding so learns
what changes over a task (the arm, the objects) and ignores what a viewpoint changes. The
perceptual rewards (Sermanet, Xu, Levine 2017) select and score features of this embedding.

No pretrained vision weights can be downloaded on the project's machines, so the encoder is a
small CNN trained from simulation videos (:mod:`robo_reward.perceptual.tcn_train`); the shipped
checkpoint is :func:`default_tcn_checkpoint`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from robo_reward.checkpoints import load_module, save_weights
from robo_reward.grm.model import conv_trunk

__all__ = [
    "GENERAL_TCN_CHECKPOINT",
    "KIND",
    "TCNConfig",
    "TCNEncoder",
    "default_tcn_checkpoint",
    "load_tcn",
    "save_tcn",
]

KIND = "tcn_encoder"
GENERAL_TCN_CHECKPOINT = "tcn_general.safetensors"
"""The encoder shipped in the package, trained by ``make tcn-pretrain``."""


@dataclass(frozen=True)
class TCNConfig:
    """Architecture of the TCN encoder (stored next to every checkpoint)."""

    image_size: int = 96
    """Square input images (RGB) of this size."""
    embedding_dim: int = 32
    """Width of the (L2-normalised) embedding."""
    channels: tuple[int, int, int] = (32, 64, 64)
    """Channels of the three conv stages (stride 4, 2, 2)."""
    hidden_dim: int = 128
    """Width of the hidden layer between the flattened feature map and the embedding."""

    def __post_init__(self) -> None:
        if self.image_size % 16 != 0 or self.image_size < 32:
            raise ValueError(
                f"image_size must be a multiple of 16 and >= 32, got {self.image_size}"
            )
        if self.embedding_dim < 2:
            raise ValueError(f"embedding_dim must be >= 2, got {self.embedding_dim}")
        if len(self.channels) != 3 or any(c < 8 or c % 8 for c in self.channels):
            raise ValueError(
                f"channels must be three positive multiples of 8 (GroupNorm), got {self.channels}"
            )
        if self.hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {self.hidden_dim}")


class TCNEncoder(nn.Module):
    """Images ``(N, H, W, 3)`` -> unit-length embeddings ``(N, D)``.

    The layout follows the GRM's image encoder (:class:`robo_reward.grm.model.ImageEncoder`): a
    stride-4 stem keeps 96x96 cheap on a CPU and the flattened 6x6 map keeps *where* things are,
    which is what tells one moment of a task from the next. Embeddings are L2-normalised, as in
    the TCN paper: the contrastive loss and every nearest-neighbour use compare directions.
    """

    def __init__(self, config: TCNConfig | None = None) -> None:
        super().__init__()
        self.config = config or TCNConfig()
        c3 = self.config.channels[2]
        self.conv = conv_trunk(self.config.channels)
        side = self.config.image_size // 16
        self.project = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c3 * side * side, self.config.hidden_dim),
            nn.GELU(),
            nn.Linear(self.config.hidden_dim, self.config.embedding_dim),
        )
        self.register_buffer(
            "mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False
        )
        self.checkpoint_extra: dict[str, Any] = {}
        """What training recorded in the checkpoint this encoder was loaded from."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 images, or float tensors of the same 0-255 pixel values
        (``images.float()``), -> ``(N, D)`` unit-length embeddings."""
        size = self.config.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (size, size, 3):
            raise ValueError(
                f"expected images of shape (N, {size}, {size}, 3), got {tuple(images.shape)}"
            )
        x = images.permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
        # Scaling to [0, 1] and centring are folded into the unpadded stem convolution, as in
        # the GRM encoder: conv(x / 255 - m) = conv_{w/255}(x) + (b - sum(w * m)).
        stem = self.conv[0]
        weight = stem.weight / 255.0
        bias = stem.bias - (stem.weight * self.mean).sum((1, 2, 3))
        x = F.conv2d(x, weight, bias, stride=stem.stride)
        return F.normalize(self.project(self.conv[1:](x)), dim=-1)

    def embed(self, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Embed a video: uint8 ``(T, H, W, 3)`` frames -> float32 ``(T, D)``, in eval mode
        without gradients, ``batch_size`` frames per pass (bounds memory on long videos)."""
        self._check_frames(frames)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        device = self.mean.device
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                # A copy per chunk: torch refuses to wrap the read-only arrays of a Trajectory.
                chunks = [
                    self(torch.from_numpy(np.array(frames[i : i + batch_size])).to(device))
                    for i in range(0, len(frames), batch_size)
                ]
        finally:
            self.train(was_training)
        return torch.cat(chunks).float().cpu().numpy()

    def _check_frames(self, frames: Any) -> None:
        size = self.config.image_size
        if not isinstance(frames, np.ndarray):
            raise ValueError(
                f"frames must be a numpy array of uint8 (T, {size}, {size}, 3), "
                f"got a {type(frames).__name__}"
            )
        if frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be uint8 RGB (0-255), got dtype {frames.dtype}; convert float "
                "images in [0, 1] with (x * 255).round().astype(np.uint8)"
            )
        if frames.ndim != 4:
            raise ValueError(
                f"frames must be 4-D (T, H, W, 3), got shape {frames.shape}; "
                "wrap a single image as image[None]"
            )
        if frames.shape[0] == 0:
            raise ValueError("frames is empty (T = 0): nothing to embed")
        if frames.shape[-1] != 3:
            raise ValueError(f"frames must have 3 (RGB) channels last, got shape {frames.shape}")
        if frames.shape[1:3] != (size, size):
            raise ValueError(
                f"frames are {frames.shape[1]}x{frames.shape[2]} but this encoder takes "
                f"{size}x{size}; render or resize the images to {size}x{size}"
            )


def save_tcn(path: str | Path, encoder: TCNEncoder, extra: dict[str, Any] | None = None) -> Path:
    """Write ``encoder`` (weights + architecture) atomically as a ``tcn_encoder`` checkpoint."""
    return save_weights(
        path, encoder.state_dict(), kind=KIND, config=asdict(encoder.config), extra=extra
    )


def load_tcn(path: str | Path) -> TCNEncoder:
    """Rebuild an encoder from a checkpoint, in eval mode; ``encoder.checkpoint_extra`` holds
    what training recorded (data, settings, validation alignment errors)."""
    return load_module(path, KIND, TCNConfig, TCNEncoder, "TCN")


def default_tcn_checkpoint() -> Path:
    """Path of the shipped TCN encoder checkpoint."""
    path = Path(str(resources.files("robo_reward.perceptual") / "weights" / GENERAL_TCN_CHECKPOINT))
    if not path.is_file():
        raise FileNotFoundError(
            f"the general TCN encoder checkpoint is missing at {path}; make it with "
            "`make tcn-pretrain` (robo-reward encoder train), which copies it there"
        )
    return path
