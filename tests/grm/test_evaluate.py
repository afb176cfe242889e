"""Evaluation metrics: VOC, the completion decision rule, ground-truth classes."""

from __future__ import annotations

import numpy as np
import pytest
from grm_synthetic import build_trajectory

from robo_reward.grm.evaluate import completion_class, spearman, true_class, voc


def test_voc_is_one_for_increasing_and_minus_one_for_decreasing_progress() -> None:
    assert voc(np.linspace(0, 1, 20)) == pytest.approx(1.0)
    assert voc(np.linspace(1, 0, 20)) == pytest.approx(-1.0)
    assert voc(np.array([0.0, 0.5, 0.2, 0.9])) == pytest.approx(0.8)


def test_spearman_handles_ties_and_constants() -> None:
    assert spearman(np.array([1, 1, 2, 3]), np.arange(4)) == pytest.approx(0.9486833)
    assert spearman(np.zeros(5), np.arange(5)) == 0.0


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (np.r_[np.linspace(0, 0.5, 20), np.linspace(0.6, 0.95, 10)], "success"),
        (np.r_[np.linspace(0, 0.9, 20), np.full(10, 0.5)], "partial"),  # final 0.5 <= 0.8
        (np.r_[np.linspace(0, 0.5, 20), np.full(10, 0.85)], "success"),
        (np.r_[np.zeros(20), np.linspace(0.3, 0.81, 10)], "partial"),  # tail mean < 0.6
        (np.r_[np.linspace(0, 0.3, 20), np.full(10, 0.3)], "failure"),
    ],
)
def test_completion_rule(progress: np.ndarray, expected: str) -> None:
    assert completion_class(progress) == expected


def test_true_class_uses_success_then_true_progress() -> None:
    assert true_class(build_trajectory(success=True)) == "success"
    stalled = np.r_[np.linspace(0, 0.6, 7), np.full(6, 0.6)].astype(np.float32)
    assert (
        true_class(build_trajectory(success=False, keyframes=None, progress=stalled)) == "partial"
    )
    early = np.r_[np.linspace(0, 0.2, 4), np.full(9, 0.2)].astype(np.float32)
    assert true_class(build_trajectory(success=False, keyframes=None, progress=early)) == "failure"
    unknown = build_trajectory(success=False, keyframes=None, progress=None)
    assert true_class(unknown) == "failure"
