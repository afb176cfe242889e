"""The step annotations match every expert's phases, and the discovery score is sound."""

from __future__ import annotations

import numpy as np
import pytest

from robo_reward.perceptual.evaluate import STEP_ANNOTATIONS, annotated_keyframes, discovery_scores
from robo_reward.perceptual.reward import PerceptualConfig
from robo_reward.sim.experts import EXPERTS


@pytest.mark.parametrize("task", sorted(STEP_ANNOTATIONS))
def test_annotations_group_the_experts_phases_in_order(task: str) -> None:
    phases = EXPERTS[task].subtask_labels
    for steps, groups in STEP_ANNOTATIONS[task].items():
        assert len(groups) == steps
        assert [label for group in groups for label in group] == list(phases)


@pytest.mark.parametrize("task", ["push", "button_press"])
def test_annotated_keyframes_of_a_real_rollout(task: str) -> None:
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    traj = rollout(task, 5, env_config=EnvConfig(cameras=("front",), image_size=32))
    for steps in STEP_ANNOTATIONS[task]:
        keys = annotated_keyframes(traj, steps)
        assert len(keys) == steps + 1 and keys[0] == 0 and keys[-1] == traj.keyframes[-1]
        assert set(keys) <= set(traj.keyframes)
    with pytest.raises(ValueError, match="no 7-step annotation"):
        annotated_keyframes(traj, 7)


def test_discovery_beats_random_when_steps_are_visible() -> None:
    """Features that jump at the annotated boundaries are found exactly; random splits are not."""
    from robo_reward.sim.demos import rollout
    from robo_reward.sim.env_config import EnvConfig

    rng = np.random.default_rng(0)
    trajs, features = [], []
    for seed in range(3):
        traj = rollout("push", seed, env_config=EnvConfig(cameras=("front",), image_size=32))
        keys = annotated_keyframes(traj, 3)
        labels = np.searchsorted(np.asarray(keys[1:-1]), np.arange(traj.num_frames), "right")
        features.append(np.eye(3)[labels] * 5 + 0.1 * rng.normal(size=(traj.num_frames, 3)))
        trajs.append(traj)
    scores = discovery_scores(trajs, features, 3, PerceptualConfig(features="grm"), 50)
    assert scores["discovered"] > 0.95
    assert scores["ordered_random"] < 0.8
