"""Multi-view offscreen rendering of a MuJoCo scene: one RGB (and optionally depth) image per
named camera, from a single OpenGL context."""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np


class Renderer(mujoco.Renderer):
    """``mujoco.Renderer`` that frees its GPU objects inside its own GL context.

    ``mujoco.Renderer.close`` (also run on garbage collection) destroys the GL context first and
    the MjrContext second, so the MjrContext's textures and buffers are deleted in whichever
    context is current: another env's. That env then renders garbage. Here the MjrContext goes
    first, with its own context made current.
    """

    def close(self) -> None:
        gl_context = getattr(self, "_gl_context", None)
        mjr_context = getattr(self, "_mjr_context", None)
        if gl_context and mjr_context:
            gl_context.make_current()
            mjr_context.free()
            self._mjr_context = None
        super().close()


class MultiViewRenderer:
    """Renders several named cameras of one model into preallocated arrays.

    Args:
        model: the compiled model; every name in ``cameras`` must be one of its cameras.
        cameras: camera names, e.g. ``("front", "side", "wrist")``.
        height, width: image size in pixels.
        depth: also render a float32 depth image (metres) per camera.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        cameras: Sequence[str],
        height: int,
        width: int,
        depth: bool = False,
    ) -> None:
        available = [model.camera(i).name for i in range(model.ncam)]
        unknown = [c for c in cameras if c not in available]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; this scene has {available}")
        if len(set(cameras)) != len(cameras):
            raise ValueError(f"camera names repeat: {list(cameras)}")
        self.cameras = tuple(cameras)
        self.height, self.width, self.depth = int(height), int(width), bool(depth)
        self._renderer = Renderer(model, self.height, self.width)
        # Cameras see what a real camera sees: MuJoCo's default options draw rangefinder rays
        # (the rover's lidar beams) into every image.
        self._scene_option = mujoco.MjvOption()
        self._scene_option.flags[mujoco.mjtVisFlag.mjVIS_RANGEFINDER] = False
        self._depth_renderer: Renderer | None = None
        if self.depth:
            self._depth_renderer = Renderer(model, self.height, self.width)
            self._depth_renderer.enable_depth_rendering()

    def render(self, data: mujoco.MjData) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Returns ``(rgb, depth)``: dicts of view name -> uint8 HxWx3 and float32 HxW."""
        rgb: dict[str, np.ndarray] = {}
        depth: dict[str, np.ndarray] = {}
        for camera in self.cameras:
            self._renderer.update_scene(data, camera=camera, scene_option=self._scene_option)
            rgb[camera] = self._renderer.render()
            if self._depth_renderer is not None:
                self._depth_renderer.update_scene(
                    data, camera=camera, scene_option=self._scene_option
                )
                depth[camera] = self._depth_renderer.render().astype(np.float32, copy=False)
        return rgb, depth

    def close(self) -> None:
        for renderer in (self._renderer, self._depth_renderer):
            if renderer is not None:
                renderer.close()
        self._depth_renderer = None
