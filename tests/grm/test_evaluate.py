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


def test_evaluate_model_reports_every_view_subset_fusion_and_anchoring(tiny_grm) -> None:
    from robo_reward.grm.evaluate import CLASSES, eval_markdown, evaluate_model
    from robo_reward.grm.tracker import ANCHORINGS, FusionConfig, Reference

    demo = build_trajectory(seed=0)
    experts = [build_trajectory(seed=s) for s in (1, 2)]
    stalled = np.r_[np.linspace(0, 0.6, 7), np.full(6, 0.6)].astype(np.float32)
    rollouts = [
        build_trajectory(seed=3),
        build_trajectory(seed=4, success=False, keyframes=None, progress=stalled),
    ]
    result = evaluate_model(
        tiny_grm, Reference.from_trajectory(demo), experts, rollouts, FusionConfig()
    )
    views = tiny_grm.config.views
    expected_subsets = {"all"} | {f"only {v}" for v in views} | {f"without {v}" for v in views}
    assert set(result["voc"]) == expected_subsets
    for curves in result["voc"].values():
        assert set(curves) == {*ANCHORINGS, "fused"}
        assert all(-1.0 <= value <= 1.0 for value in curves.values())
    assert sum(sum(row.values()) for row in result["confusion"].values()) == len(rollouts)
    assert set(result["confusion"]) == set(CLASSES)
    per_anchoring = result["completion_accuracy_per_anchoring"]
    assert set(per_anchoring) == set(ANCHORINGS)
    assert all(value in (0.0, 0.5, 1.0) for value in per_anchoring.values())
    table = eval_markdown({"tasks": {"push": {"zero_shot": result}}})
    assert "completion acc. incr. / fwd / bwd alone" in table
    assert table.count("| push |") == 2  # the headline row and the fusion-settings row
