"""Place recognition: does the robot look as it did at a known node?

Two cues, each with a similarity in [0, 1]:

- **Occupancy signature** (always; from the lidar): a histogram of ranges and the magnitudes of
  the scan's discrete Fourier transform. Both are invariant to the robot's heading (rotating a
  full-turn scan circularly shifts it, which leaves |DFT| unchanged), so a corridor revisited in
  the other direction still matches.
- **Image descriptor** (when an ``rgb`` frame is present): ORB keypoints (Rublee et al., 2011;
  opencv) matched by Hamming distance, as TopoNav (Hossain et al., 2024) uses visual features.
  At the nav env's 64x64 images the default ORB (31-pixel patch and border) finds no keypoints,
  so the detector runs with a 15-pixel patch and an 8-pixel border (about 70 keypoints per frame
  at 64x64, 140 at 96x96, median over a drive through a maze, before the cap of
  ``orb_features`` = 100; the default detector finds 0 and 8). Frames with fewer than
  ``min_keypoints`` fall back to a global descriptor: a hue-saturation histogram plus a
  gradient-orientation histogram, compared by histogram intersection.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "PlaceDescriptor",
    "PlaceRecognizer",
    "image_similarity",
    "scan_signature",
    "scan_similarity",
]

RANGE_BINS = 12
FFT_TERMS = 8
FFT_SCALE = 0.15
"""Euclidean distance between normalised |DFT| vectors at which their similarity is 1/e."""


def scan_signature(ranges: np.ndarray, max_range: float) -> np.ndarray:
    """Heading-invariant signature of a full-turn scan: ``RANGE_BINS`` histogram bins (sum 1)
    followed by ``FFT_TERMS`` |DFT| magnitudes (terms 1..8, divided by beams x max_range)."""
    ranges = np.asarray(ranges, dtype=np.float64) / max_range
    histogram = np.histogram(np.clip(ranges, 0, 1), bins=RANGE_BINS, range=(0.0, 1.0))[0]
    spectrum = np.abs(np.fft.rfft(ranges))[1 : FFT_TERMS + 1] / len(ranges)
    spectrum = np.pad(spectrum, (0, FFT_TERMS - len(spectrum)))
    return np.concatenate([histogram / max(len(ranges), 1), spectrum]).astype(np.float32)


def scan_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Mean of histogram intersection and ``exp(-|dDFT| / FFT_SCALE)``, in [0, 1]."""
    hist = float(np.minimum(a[:RANGE_BINS], b[:RANGE_BINS]).sum())
    shape = float(np.exp(-np.linalg.norm(a[RANGE_BINS:] - b[RANGE_BINS:]) / FFT_SCALE))
    return 0.5 * (hist + shape)


@dataclass(frozen=True)
class PlaceDescriptor:
    """What a place looks like: the lidar signature and, with a camera, image descriptors."""

    scan: np.ndarray
    """:func:`scan_signature` of the scan."""
    orb: np.ndarray | None = None
    """uint8 ``(K, 32)`` ORB descriptors, None without a camera or with too few keypoints."""
    histogram: np.ndarray | None = None
    """Global image histogram (colour half and gradient half, each summing to 0.5; a view without
    any gradient sums to 0.5), None without a camera."""


def _global_histogram(rgb: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    colour = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256]).ravel()
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    magnitude, angle = cv2.cartToPolar(gx, gy)
    gradient = np.histogram(angle, bins=8, range=(0, 2 * np.pi), weights=magnitude)[0]
    parts = [colour / max(colour.sum(), 1e-9), gradient / max(gradient.sum(), 1e-9)]
    return (0.5 * np.concatenate(parts)).astype(np.float32)


def image_similarity(a: PlaceDescriptor, b: PlaceDescriptor, max_hamming: int = 40) -> float | None:
    """ORB match ratio (cross-checked matches closer than ``max_hamming`` bits over the smaller
    keypoint count) when both have ORB descriptors; else histogram intersection; None if either
    has no image."""
    if a.orb is not None and b.orb is not None:
        matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        matches = matcher.match(a.orb, b.orb)
        good = sum(1 for m in matches if m.distance < max_hamming)
        return min(1.0, good / min(len(a.orb), len(b.orb)))
    if a.histogram is not None and b.histogram is not None:
        return float(np.minimum(a.histogram, b.histogram).sum())
    return None


class PlaceRecognizer:
    """Computes :class:`PlaceDescriptor` s and compares them.

    Args:
        max_range: the lidar's range (m), to normalise scans.
        image_weight: weight of the image cue in the combined similarity when both places have
            an image (the lidar cue gets the rest). 0.3 by default: in the nav mazes every wall
            looks alike, so the geometry carries most of the evidence.
        min_keypoints: fewer ORB keypoints than this -> the global histogram is used instead.
        orb_features, orb_patch: ORB detector settings (see the module docstring).
    """

    def __init__(
        self,
        max_range: float = 3.0,
        image_weight: float = 0.3,
        min_keypoints: int = 10,
        orb_features: int = 100,
        orb_patch: int = 15,
    ) -> None:
        if not 0.0 <= image_weight <= 1.0:
            raise ValueError(f"image_weight must be in [0, 1], got {image_weight}")
        self.max_range = float(max_range)
        self.image_weight = float(image_weight)
        self.min_keypoints = int(min_keypoints)
        self._orb = cv2.ORB_create(
            nfeatures=orb_features, edgeThreshold=orb_patch // 2 + 1, patchSize=orb_patch,
            fastThreshold=10,
        )  # fmt: skip

    def describe(self, ranges: np.ndarray, rgb: np.ndarray | None = None) -> PlaceDescriptor:
        """Descriptor of a validated scan and an optional uint8 ``(H, W, 3)`` image."""
        signature = scan_signature(ranges, self.max_range)
        if rgb is None:
            return PlaceDescriptor(signature)
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        _, orb = self._orb.detectAndCompute(gray, None)
        if orb is not None and len(orb) < self.min_keypoints:
            orb = None
        return PlaceDescriptor(signature, orb, _global_histogram(rgb))

    def keypoint_count(self, rgb: np.ndarray) -> int:
        """ORB keypoints the detector finds in ``rgb`` (for measuring image sizes)."""
        return len(self._orb.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None))

    def similarity(self, a: PlaceDescriptor, b: PlaceDescriptor) -> float:
        """Combined similarity in [0, 1]: lidar signature, blended with the image cue when both
        places have one."""
        scan = scan_similarity(a.scan, b.scan)
        image = image_similarity(a, b)
        if image is None:
            return scan
        return (1.0 - self.image_weight) * scan + self.image_weight * image
