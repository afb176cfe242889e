"""Potential providers: anything that gives ``Φ(s)`` for the states of an episode, in order.

A provider may keep episode state (the GRM tracker anchors on the episode's first frame), so
the interface is episodic rather than a pure function of ``s``:

- ``reset(observation, info) -> Φ(s_0)`` at the start of every episode,
- ``potential(observation, info) -> Φ(s_t)`` once per step, for the state just reached.

``bounds`` declares the range the provider promises; the shaping wrapper stops with a
:class:`~robo_reward.shaping.pbrs.PotentialError` when a value leaves it, never clips.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from robo_reward.grm.tracker import ANCHORINGS, FusionConfig, ProgressTracker, Reference

Observation = Any


@runtime_checkable
class PotentialProvider(Protocol):
    """``Φ`` over an episode's states (see the module docstring)."""

    name: str
    bounds: tuple[float, float]

    def reset(self, observation: Observation, info: Mapping[str, Any]) -> float: ...

    def potential(self, observation: Observation, info: Mapping[str, Any]) -> float: ...


class PrivilegedPotential:
    """The simulator's true task progress (``info["privileged_progress"]`` of the tabletop
    tasks): the upper bound a learned potential is compared with. Not available on a robot."""

    name = "privileged"
    bounds = (0.0, 1.0)

    def __init__(self, key: str = "privileged_progress") -> None:
        self.key = key

    def _read(self, info: Mapping[str, Any]) -> float:
        if self.key not in info:
            raise KeyError(
                f"info has no {self.key!r} (keys: {sorted(info)}); the privileged potential "
                "needs a simulator task that reports its progress"
            )
        return float(info[self.key])

    def reset(self, observation: Observation, info: Mapping[str, Any]) -> float:
        return self._read(info)

    def potential(self, observation: Observation, info: Mapping[str, Any]) -> float:
        return self._read(info)


class GRMPotential:
    """GRM progress against a reference demo, from the camera images in the observation.

    ``anchoring`` picks the fused progress (default) or a single anchoring (``incremental``,
    ``forward``, ``backward``) for the ablations. Cameras the model does not know are ignored;
    a camera the model knows but the observation lacks is masked by the tracker.
    """

    bounds = (0.0, 1.0)

    def __init__(
        self,
        tracker: ProgressTracker,
        anchoring: str = "fused",
        name: str = "grm",
    ) -> None:
        if anchoring not in (*ANCHORINGS, "fused"):
            raise ValueError(
                f"unknown anchoring {anchoring!r}; choose 'fused' or one of {ANCHORINGS}"
            )
        self.tracker = tracker
        self.anchoring = anchoring
        self.name = name
        self.last_completion = 0.0

    @classmethod
    def from_demo(
        cls,
        grm: Any,
        demo: Any,
        anchoring: str = "fused",
        fusion: FusionConfig | None = None,
        name: str = "grm",
    ) -> GRMPotential:
        """A potential conditioned on a successful demonstration (its first and last frames)."""
        tracker = ProgressTracker(grm, Reference.from_trajectory(demo), fusion or FusionConfig())
        return cls(tracker, anchoring, name)

    def _cameras(self, observation: Observation) -> dict[str, np.ndarray]:
        if not isinstance(observation, Mapping):
            raise TypeError("the GRM potential needs dict observations with camera images")
        views = self.tracker.config.views
        cameras = {view: observation[view] for view in views if view in observation}
        if not cameras:
            raise KeyError(
                f"the observation has none of the GRM's cameras {list(views)} "
                f"(keys: {sorted(observation)})"
            )
        return cameras

    def reset(self, observation: Observation, info: Mapping[str, Any]) -> float:
        estimate = self.tracker.reset(self._cameras(observation))
        self.last_completion = estimate.completion
        return float(getattr(estimate, self.anchoring))

    def potential(self, observation: Observation, info: Mapping[str, Any]) -> float:
        estimate = self.tracker.update(self._cameras(observation))
        self.last_completion = estimate.completion
        return float(getattr(estimate, self.anchoring))


class PerceptualPotential:
    """A fitted perceptual reward's progress (:mod:`robo_reward.perceptual.reward`) from the
    camera images in the observation. Stateless: Φ depends on the current frame alone."""

    bounds = (0.0, 1.0)

    def __init__(self, reward: Any, name: str = "perceptual") -> None:
        self.reward = reward
        self.name = name

    def _cameras(self, observation: Observation) -> dict[str, np.ndarray]:
        if not isinstance(observation, Mapping):
            raise TypeError("the perceptual potential needs dict observations with camera images")
        views = self.reward.config.views
        missing = [view for view in views if view not in observation]
        if missing:
            raise KeyError(
                f"the observation lacks camera(s) {missing} that the perceptual reward was "
                f"fitted on (keys: {sorted(observation)})"
            )
        return {view: observation[view] for view in views}

    def reset(self, observation: Observation, info: Mapping[str, Any]) -> float:
        return self.reward(self._cameras(observation))

    def potential(self, observation: Observation, info: Mapping[str, Any]) -> float:
        return self.reward(self._cameras(observation))
