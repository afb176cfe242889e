"""``TopoNavRewards``: TopoNav's map, intrinsic rewards and safety objective as a gym wrapper.

Each step the wrapper (1) optionally passes the action through the safety filter
(:func:`~robo_reward.topo.objectives.filter_action`, on the last scan), (2) updates a
:class:`~robo_reward.topo.graph.TopologicalMap` with the new observation, (3) holds a subgoal
(:class:`~robo_reward.topo.objectives.SubgoalSelector`) and (4) adds

    ``r' = r + new_node + visit + subgoal + safety + waypoint``

(:func:`~robo_reward.topo.rewards.topo_rewards`, :func:`~robo_reward.topo.objectives.
safety_penalty`). Reported in ``info``, flat so vector envs keep them:

``reward/task``, ``reward/new_node``, ``reward/visit``, ``reward/subgoal``, ``reward/safety``,
``reward/waypoint`` (0 without the hierarchy), ``reward/total``; ``topo/subgoal`` (x, y of the
subgoal's node; with no subgoal, i.e. no frontier and no goal node reachable, the global goal's
position: the next objective of the hierarchy), ``topo/subgoal_node`` (-1 when none),
``topo/node``, ``topo/nodes``, ``topo/frontiers``, ``topo/clearance``,
``topo/action_filtered``.

**Hierarchy** (``waypoints=True``, TopoNav's subgoal-directed agent): a
:class:`~robo_reward.topo.explorer.FrontierExplorer` is the high level. It holds the map, picks
the subgoal (the goal once the map reaches it, else a frontier ranked by path cost and distance
to the goal) and plans a path to it on the occupancy grid; the observation gains ``waypoint``,
the path point to steer toward (``float32 (2,)``, rover frame, zeros without a path), and the
``subgoal`` term pays when the policy reaches a frontier subgoal. The policy is the low level:
it learns to drive to waypoints under the shield, rewarded by the ``waypoint`` term,
``waypoint_progress`` per metre it moved toward the waypoint it was shown (the low-level
objective of hierarchical RL, as HIRO's distance reward: it is meant to change the low level's
optimal policy, unlike potential-based shaping. A potential on the planned distance was tried
first: its advantages equal the unshaped ones, and moving paid only the sparse node and subgoal
bonuses, so PPO did not learn to follow waypoints in 200k steps: 0 of 5 evaluation episodes,
training coverage flat at 41%).

The map is rebuilt at every ``reset``: episodes are independent and a seeded episode is
deterministic (``check_env``). Wrap it in
:class:`~robo_reward.shaping.wrapper.PotentialShaping` with
``GraphDistancePotential(lambda: wrapper.topo)`` to add the graph-distance shaping on the same
map.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from robo_reward.topo.explorer import ExplorerConfig, FrontierExplorer
from robo_reward.topo.graph import MapUpdate, TopologicalMap, TopoMapConfig
from robo_reward.topo.objectives import (
    SafetyConfig,
    Subgoal,
    SubgoalConfig,
    SubgoalSelector,
    filter_action,
    goal_position,
    safety_penalty,
)
from robo_reward.topo.occupancy import Pose2D
from robo_reward.topo.rewards import TopoRewardConfig, topo_rewards

__all__ = ["TopoNavConfig", "TopoNavRewards"]


@dataclass(frozen=True)
class TopoNavConfig:
    """Everything :class:`TopoNavRewards` does, with the defaults of its parts."""

    rewards: TopoRewardConfig = field(default_factory=TopoRewardConfig)
    """Weights of the intrinsic terms."""
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    """Clearances and the penalty's weight (``penalty=0`` turns the penalty off)."""
    subgoals: SubgoalConfig = field(default_factory=SubgoalConfig)
    """Weights of the subgoal score."""
    map: TopoMapConfig = field(default_factory=TopoMapConfig)
    """Thresholds of the topological map."""
    filter_actions: bool = False
    """Pass actions through the safety filter (the policy then acts through a shield)."""
    waypoints: bool = False
    """The hierarchy (module docstring): a planner picks subgoals, the policy sees a waypoint."""
    planner: ExplorerConfig = field(default_factory=ExplorerConfig)
    """The high level's planning parameters (its map thresholds are ``map``'s)."""
    waypoint_progress: float = 1.0
    """Reward per metre moved toward the shown waypoint (hierarchy only): up to 0.025 per
    0.1 s step at the rover's 0.5 m/s, a metre of it worth ten new nodes."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.waypoint_progress) and self.waypoint_progress >= 0):
            raise ValueError(
                f"waypoint_progress must be a finite number >= 0, got {self.waypoint_progress!r}"
            )


class TopoNavRewards(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds TopoNav's intrinsic rewards and safety penalty (see the module docstring).

    Args:
        env: a nav env (dict observations with ``lidar``, ``odometry`` and ``goal``).
        config: :class:`TopoNavConfig`.
    """

    def __init__(self, env: gym.Env, config: TopoNavConfig = TopoNavConfig()) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, config=config)
        super().__init__(env)
        space = env.observation_space
        missing = [
            k for k in ("lidar", "odometry", "goal") if k not in getattr(space, "spaces", {})
        ]
        if missing:
            raise ValueError(
                f"TopoNavRewards needs a nav env's dict observations; missing {missing}"
            )
        self.config = config
        self.topo = TopologicalMap(config.map)
        self.selector = SubgoalSelector(config.subgoals)
        self.planner: FrontierExplorer | None = None
        self._scan: np.ndarray | None = None
        self._shown: tuple[np.ndarray, np.ndarray] | None = None
        """(waypoint, robot position) when the waypoint was last shown."""
        if config.waypoints:
            self.observation_space = spaces.Dict(
                {
                    **space.spaces,
                    "waypoint": spaces.Box(-np.inf, np.inf, (2,), np.float32),
                }
            )

    def _new_map(self) -> None:
        if self.config.waypoints:
            self.planner = FrontierExplorer(
                dataclasses.replace(self.config.planner, map=self.config.map)
            )
            self.topo = self.planner.topo
        else:
            self.topo = TopologicalMap(self.config.map)
            self.selector.reset()

    def _observe(self, observation: Any) -> tuple[MapUpdate, Subgoal | None, bool]:
        """Update the map; (update, subgoal, whether the last subgoal was reached)."""
        goal_xy = goal_position(observation)
        if self.planner is None:
            update = self.topo.update(observation)
            subgoal, reached = self.selector.update(self.topo, goal_xy)
            return update, subgoal, reached
        update = self.planner.observe(observation)
        target = self.planner.target
        subgoal = None
        if target is not None:
            node, _ = self.topo.nearest_node(target)
            subgoal = Subgoal(node, np.array(target), math.nan, self.planner.target_is_goal)
        return update, subgoal, self.planner.target_reached

    def _with_waypoint(self, observation: dict[str, Any]) -> dict[str, Any]:
        if self.planner is None:
            return observation
        point = self.planner.waypoint()
        vector = np.zeros(2, dtype=np.float32)
        self._shown = None if point is None else (np.array(point), self.planner.pose.xy.copy())
        if point is not None:
            pose = self.planner.pose
            dx, dy = point - pose.xy
            c, s = math.cos(pose.yaw), math.sin(pose.yaw)
            vector[:] = (c * dx + s * dy, -s * dx + c * dy)
        return {**observation, "waypoint": vector}

    def _topo_info(
        self, update: MapUpdate, subgoal: Subgoal | None, goal_xy: np.ndarray
    ) -> dict[str, Any]:
        return {
            "topo/subgoal": goal_xy if subgoal is None else subgoal.xy.copy(),
            "topo/subgoal_node": -1 if subgoal is None else subgoal.node,
            "topo/node": update.node,
            "topo/nodes": len(self.topo),
            "topo/frontiers": len(update.frontier),
            "topo/clearance": update.clearance,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        self._new_map()
        update, subgoal, _ = self._observe(observation)
        goal_xy = goal_position(observation)
        self._scan = np.asarray(observation["lidar"])
        info = {**info, **self._topo_info(update, subgoal, goal_xy)}
        return self._with_waypoint(observation), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._scan is None:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        filtered = False
        if self.config.filter_actions:
            safe = filter_action(action, self._scan, self.config.safety, self.config.map.scan)
            filtered = bool(np.any(safe != np.asarray(action, dtype=np.float32)))
            action = safe
        observation, reward, terminated, truncated, info = self.env.step(action)
        update, subgoal, reached = self._observe(observation)
        goal_xy = goal_position(observation)
        visits = self.topo.place(update.node).visits
        terms = topo_rewards(update, visits, reached, self.config.rewards)
        terms["safety"] = safety_penalty(update.clearance, self.config.safety)
        terms["waypoint"] = 0.0
        if self._shown is not None:
            point, before = self._shown
            after = Pose2D.from_odometry(observation["odometry"]).xy
            progress = np.linalg.norm(point - before) - np.linalg.norm(point - after)
            terms["waypoint"] = self.config.waypoint_progress * float(progress)
        task = float(reward)
        info = dict(info)
        info.setdefault("reward/task", task)
        for name, value in terms.items():
            info[f"reward/{name}"] = value
        total = task + sum(terms.values())
        info["reward/total"] = total
        info.update(self._topo_info(update, subgoal, goal_xy))
        info["topo/action_filtered"] = filtered
        self._scan = None if (terminated or truncated) else np.asarray(observation["lidar"])
        return self._with_waypoint(observation), total, terminated, truncated, info
