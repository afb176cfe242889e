"""A compiled MuJoCo scene rebuilt in PyBullet from primitive shapes.

The PyBullet tasks read every size, pose, mass, joint, friction, colour, texture, camera and light
from the same compiled MJCF as the MuJoCo tasks, so the two simulators cannot drift apart when a
scene file changes; only the physics engine and the renderer differ.

What the tabletop scenes use is supported: boxes, spheres, capsules, cylinders and planes; static
geoms, mocap bodies (visual markers), free bodies and one fixed-base tree of hinge and slide
joints per world child. Anything else raises ``NotImplementedError`` naming the element.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import imageio.v3 as iio
import mujoco
import numpy as np
import pybullet as p

_GEOM = mujoco.mjtGeom
_BULLET_SHAPES = {
    int(_GEOM.mjGEOM_BOX): p.GEOM_BOX,
    int(_GEOM.mjGEOM_SPHERE): p.GEOM_SPHERE,
    int(_GEOM.mjGEOM_CAPSULE): p.GEOM_CAPSULE,
    int(_GEOM.mjGEOM_CYLINDER): p.GEOM_CYLINDER,
}
_BULLET_JOINTS = {
    int(mujoco.mjtJoint.mjJNT_HINGE): p.JOINT_REVOLUTE,
    int(mujoco.mjtJoint.mjJNT_SLIDE): p.JOINT_PRISMATIC,
}
_RGB_ROLE = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
_EMPTY_MESH = {"shapeType": p.GEOM_MESH, "vertices": [[0.0, 0.0, 0.0]] * 3, "indices": [0, 1, 2]}
"""A visual shape that draws nothing, for colliders (PyBullet draws a shape without one)."""
MIN_INERTIA = 1e-8
"""Bullet needs a positive inertia on every dynamic link (MuJoCo rounds tiny fingers to ~0)."""
TILE = 1.0
"""Largest side (m) of the tiles the faces of static boxes and planes are drawn as, for
culling."""
OCCLUDER_MARGIN = 0.002
"""How far (m) inside its edges an occluding face must be crossed to hide what is behind."""


def to_xyzw(quat_wxyz: Sequence[float]) -> list[float]:
    """MuJoCo's (w, x, y, z) quaternion as PyBullet's (x, y, z, w)."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    return [x, y, z, w]


def rotation(quat_xyzw: Sequence[float]) -> np.ndarray:
    """3x3 rotation matrix of a PyBullet quaternion."""
    return np.asarray(p.getMatrixFromQuaternion(quat_xyzw)).reshape(3, 3)


@dataclass(frozen=True)
class Part:
    """Where a MuJoCo body lives in PyBullet: a multibody and a link of it (-1: its base)."""

    body: int
    link: int = -1


@dataclass(frozen=True)
class Piece:
    """One visual shape in PyBullet: the geom it draws, where it is, and its layer
    (``"static"``, ``"marker"`` or ``"moving"``, see :meth:`MjcfScene.layer`); static pieces
    drawn as flat tiles carry their world corners (4, 3), in order around their normal, for
    culling."""

    geom: int
    body: int
    link: int
    shape: int
    layer: str
    face: np.ndarray | None = None


@dataclass
class _Shapes:
    """Collision and visual shapes of one PyBullet link, with the geoms they come from."""

    collision: list[dict]
    visual: list[dict]
    visual_geoms: list[int]


class MjcfScene:
    """A compiled MJCF model rebuilt in the PyBullet client ``client``.

    Args:
        model: the compiled model (its cameras, lights and appearance are read again at every
            :meth:`sync_appearance` and :meth:`camera_frame`, so randomising them in ``model``
            randomises the PyBullet scene too).
        client: a PyBullet physics client id (``p.connect(p.DIRECT)``).
        site_links: sites that become massless fixed links of their body's tree, so PyBullet
            can report their pose and velocity and solve inverse kinematics for them.
    """

    def __init__(self, model: mujoco.MjModel, client: int, site_links: Sequence[str] = ()) -> None:
        self.model, self.client = model, client
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        self._static_xpos = data.xpos.copy()
        self._static_xquat = data.xquat.copy()
        self.parts: dict[int, Part] = {}
        """MuJoCo body id -> PyBullet multibody and link."""
        self.joints: dict[str, tuple[int, int]] = {}
        """MuJoCo hinge/slide joint name -> (multibody, joint index)."""
        self.sites: dict[str, Part] = {}
        self.markers: set[int] = set()
        """Mocap bodies: they move only when the task sets them (at reset)."""
        self.pieces: list[Piece] = []
        """Every visual shape, the unit :meth:`show` hides and shows."""
        self._looks: list[tuple[tuple[float, ...], int] | None] = []
        self._textures: dict[tuple[int, int, int], int] = {}
        faces: list[tuple[np.ndarray, ...]] = []
        with tempfile.TemporaryDirectory() as self._folder:  # for the round meshes
            # TinyRenderer draws in creation order and shades every pixel that passes the depth
            # test, so near things go first: the trees, free and mocap bodies, then static geoms
            # with the planes (floor, walls) last.
            static = [g for g in range(model.ngeom) if model.geom_bodyid[g] == 0]
            for body in range(1, model.nbody):
                if model.body_parentid[body] != 0:
                    continue
                subtree = [b for b in range(body, model.nbody) if model.body_rootid[b] == body]
                joints = [j for b in subtree for j in _body_joints(model, b)]
                if model.body_mocapid[body] >= 0:
                    self._add_single(body, mass=0.0)
                    self.markers.add(body)
                elif joints and model.jnt_type[joints[0]] == mujoco.mjtJoint.mjJNT_FREE:
                    if len(subtree) > 1 or len(joints) > 1:
                        raise NotImplementedError(
                            f"free body {model.body(body).name!r} has children"
                        )
                    self._add_single(body, mass=float(model.body_mass[body]))
                elif joints:
                    self._add_tree(subtree, site_links)
                else:
                    static += [g for g in range(model.ngeom) if model.geom_bodyid[g] in subtree]
            static.sort(
                key=lambda g: (model.geom_type[g] == _GEOM.mjGEOM_PLANE, not _collides(model, g))
            )
            self._add_static_geoms(data, static, faces)
        missing = set(site_links) - set(self.sites)
        if missing:
            raise ValueError(f"no site(s) {sorted(missing)} on a jointed body of the model")
        self._shown = np.ones(len(self.pieces), dtype=bool)
        self._occluders = (
            *(np.array([face[i] for face in faces]).reshape(-1, 3) for i in range(4)),
            *(np.array([face[i] for face in faces], dtype=float) for i in (4, 5)),
        )
        """Faces of the static opaque boxes: centres, normals, two edge directions and the
        half-sizes along them."""
        self._faced = np.array([piece.face is not None for piece in self.pieces], dtype=bool)
        self._faces = np.array([piece.face for piece in self.pieces if piece.face is not None])
        self._faces = self._faces.reshape(-1, 4, 3)
        self._face_centres = self._faces.mean(axis=1)
        self._face_normals = np.cross(
            self._faces[:, 1] - self._faces[:, 0], self._faces[:, 2] - self._faces[:, 1]
        )
        self.sync_appearance()

    # ----------------------------------------------------------------- poses
    def frame(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """World position and rotation matrix of a MuJoCo body's frame."""
        part = self.parts.get(body)
        if part is None:
            return self._static_xpos[body], rotation(to_xyzw(self._static_xquat[body]))
        if part.link >= 0:
            state = p.getLinkState(
                part.body, part.link, computeForwardKinematics=1, physicsClientId=self.client
            )
            return np.asarray(state[4]), rotation(state[5])
        com, quat = p.getBasePositionAndOrientation(part.body, physicsClientId=self.client)
        rot = rotation(quat)
        offset = self._base_inertial_offset(part.body)
        return np.asarray(com) - rot @ offset, rot

    def set_base_frame(
        self, body: int, position: np.ndarray, quat_wxyz: Sequence[float] = (1, 0, 0, 0)
    ) -> None:
        """Teleport a free or mocap body (its frame, not its centre of mass), at rest."""
        part = self.parts[body]
        if part.link >= 0:
            raise ValueError(f"body {self.model.body(body).name!r} is a link of a tree")
        quat = to_xyzw(quat_wxyz)
        com = np.asarray(position) + rotation(quat) @ self._base_inertial_offset(part.body)
        p.resetBasePositionAndOrientation(part.body, com, quat, physicsClientId=self.client)
        p.resetBaseVelocity(part.body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)

    def _base_inertial_offset(self, body: int) -> np.ndarray:
        info = p.getDynamicsInfo(body, -1, physicsClientId=self.client)
        return np.asarray(info[3])

    # ----------------------------------------------------------------- cameras and lights
    def camera_frame(self, camera: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World position, viewing direction and up direction of a MuJoCo camera (``fixed``
        or ``targetbody`` mode)."""
        model = self.model
        body_pos, body_rot = self.frame(int(model.cam_bodyid[camera]))
        eye = body_pos + body_rot @ model.cam_pos[camera]
        mode = model.cam_mode[camera]
        if mode == mujoco.mjtCamLight.mjCAMLIGHT_TARGETBODY:
            forward = self.frame(int(model.cam_targetbodyid[camera]))[0] - eye
            forward /= np.linalg.norm(forward)
            # MuJoCo keeps a target camera's x axis level.
            right = np.cross(forward, [0.0, 0.0, 1.0])
            up = np.cross(right / np.linalg.norm(right), forward)
        elif mode == mujoco.mjtCamLight.mjCAMLIGHT_FIXED:
            rot = body_rot @ rotation(to_xyzw(model.cam_quat[camera]))
            forward, up = -rot[:, 2], rot[:, 1]  # a MuJoCo camera looks along its -z
        else:
            raise NotImplementedError(f"camera {model.camera(camera).name!r}: mode {mode}")
        return eye, forward, up

    def is_static(self, body: int) -> bool:
        """Whether a MuJoCo body stays put during an episode (world, jointless, mocap)."""
        return body not in self.parts or body in self.markers

    # ----------------------------------------------------------------- appearance
    def sync_appearance(self) -> None:
        """Copy every visible geom's current colour and texture from the model to PyBullet."""
        for index, piece in enumerate(self.pieces):
            rgba, texture = self._geom_look(piece.geom)
            look = (tuple(float(v) for v in rgba), texture)
            if self._looks[index] == look:
                continue
            self._looks[index] = look
            self._apply(index, texture=texture)

    def layer(self, name: str) -> np.ndarray:
        """Mask over :attr:`pieces` of one layer: ``"static"`` (never moves), ``"marker"``
        (mocap bodies, moved only between frames by the task) or ``"moving"``."""
        return np.array([piece.layer == name for piece in self.pieces], dtype=bool)

    def show(self, mask: np.ndarray) -> None:
        """Show the pieces where ``mask`` is true and hide the others (TinyRenderer skips fully
        transparent shapes, so hidden pieces cost nothing to draw)."""
        for index in np.flatnonzero(mask != self._shown):
            self._shown[index] = mask[index]
            self._apply(int(index))

    def culled(
        self,
        eye: np.ndarray,
        forward: np.ndarray,
        up: np.ndarray,
        tan_half: tuple[float, float],
        near: float,
    ) -> np.ndarray:
        """Mask over :attr:`pieces`: the static faces a camera cannot see, being turned away
        from it, outside its frustum or behind one face of a static opaque box (e.g. the floor
        and the table leg under the table top, seen from the wrist above it).

        TinyRenderer scans the whole screen box of every triangle it is given, seen or not, so
        a moving camera hides these before drawing. Each face is clipped to the frustum first,
        so what remains is hidden exactly when every corner of it is (both are convex)."""
        culled = np.zeros(len(self.pieces), dtype=bool)
        if not len(self._faces):
            return culled
        right = np.cross(forward, up)
        tan_v, tan_h = tan_half
        bounds = (
            (forward, near),
            (forward * tan_v - up, 0.0),
            (forward * tan_v + up, 0.0),
            (forward * tan_h - right, 0.0),
            (forward * tan_h + right, 0.0),
        )
        relative = self._faces - eye
        hidden = np.einsum("nj,nj->n", eye - self._face_centres, self._face_normals) <= 0
        for normal, offset in bounds:  # the quick test first: all corners beyond one bound
            hidden |= (relative @ normal < offset).all(axis=1)
        culled[self._faced] = hidden
        candidates = np.flatnonzero(~hidden)
        if not len(candidates):
            return culled
        points, count = self._faces[candidates], np.full(len(candidates), 4)
        for normal, offset in bounds:
            points, count = _clip(points, count, eye, normal, offset)
        valid = np.arange(points.shape[1]) < count[:, None]  # (N, V)
        hidden = count == 0
        facing = np.einsum("kj,kj->k", eye - self._occluders[0], self._occluders[1]) > 0
        if facing.any():  # a box hides what is behind the faces it turns to the camera
            center, normal, u_axis, v_axis, half_u, half_v = (a[facing] for a in self._occluders)
            eye_side = np.einsum("kj,kj->k", eye - center, normal)  # (K,) > 0
            relative = points - eye
            point_side = points @ normal.T - np.einsum("kj,kj->k", center, normal)  # (N, V, K)
            with np.errstate(divide="ignore", invalid="ignore"):
                along = eye_side / (eye_side - point_side)  # where each sight line crosses
            offset = eye + along[..., None] * relative[:, :, None, :] - center  # (N, V, K, 3)
            behind = (
                (point_side < 0)
                & (np.abs(np.einsum("nvkj,kj->nvk", offset, u_axis)) <= half_u)
                & (np.abs(np.einsum("nvkj,kj->nvk", offset, v_axis)) <= half_v)
                & (along * (relative @ forward)[..., None] >= near)
            )
            hidden |= np.where(valid[..., None], behind, True).all(axis=1).any(axis=1)
        culled[np.flatnonzero(self._faced)[candidates]] = hidden
        return culled

    def _apply(self, index: int, texture: int = -1) -> None:
        piece, (rgba, _) = self.pieces[index], self._looks[index]
        colour = [*rgba[:3], rgba[3] if self._shown[index] else 0.0]
        kwargs = {"textureUniqueId": texture} if texture >= 0 else {}
        p.changeVisualShape(
            piece.body,
            piece.link,
            shapeIndex=piece.shape,
            rgbaColor=colour,
            physicsClientId=self.client,
            **kwargs,
        )

    def _geom_look(self, geom: int) -> tuple[np.ndarray, int]:
        """RGBA (MuJoCo: the material's, else the geom's) and PyBullet texture id (or -1)."""
        model = self.model
        material = model.geom_matid[geom]
        if material < 0:
            return model.geom_rgba[geom].round(6), -1
        rgba = model.mat_rgba[material].round(6)
        texture = model.mat_texid[material][_RGB_ROLE]
        if texture < 0 or model.geom_type[geom] not in (_GEOM.mjGEOM_BOX, _GEOM.mjGEOM_PLANE):
            return rgba, -1
        repeat = model.mat_texrepeat[material].round().astype(int)
        return rgba, self._texture(int(texture), int(repeat[0]), int(repeat[1]))

    def _texture(self, texture: int, repeat_u: int, repeat_v: int) -> int:
        """A MuJoCo 2D texture, tiled as its material repeats it, loaded into PyBullet once."""
        key = (texture, max(repeat_u, 1), max(repeat_v, 1))
        if key not in self._textures:
            model = self.model
            height, width = model.tex_height[texture], model.tex_width[texture]
            channels = model.tex_nchannel[texture]
            start = model.tex_adr[texture]
            pixels = model.tex_data[start : start + height * width * channels]
            image = pixels.reshape(height, width, channels)[..., :3]
            image = np.tile(image, (key[2], key[1], 1))
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "texture.png")
                iio.imwrite(path, image)
                self._textures[key] = p.loadTexture(path, physicsClientId=self.client)
        return self._textures[key]

    # ----------------------------------------------------------------- construction
    def _add_static_geoms(
        self, data: mujoco.MjData, geoms: Sequence[int], faces: list[tuple[np.ndarray, ...]]
    ) -> None:
        """Fixed bodies at the geoms' world poses, in PyBullet's maximal coordinates (a static
        rigid body costs the physics step nothing, a static multibody a little).

        What is drawn of a box or a plane is cut into flat faces of at most ``TILE`` metres
        (:meth:`culled` hides those a moving camera cannot see); plane tiles entirely behind
        another plane (outside the room) are left out. The faces of opaque boxes occlude."""
        model = self.model
        planes = [g for g in geoms if model.geom_type[g] == _GEOM.mjGEOM_PLANE]
        room = [(data.geom_xpos[g].copy(), data.geom_xmat[g].reshape(3, 3)[:, 2]) for g in planes]
        for geom in geoms:
            pos, rot = data.geom_xpos[geom].copy(), data.geom_xmat[geom].reshape(3, 3).copy()
            kind, size = model.geom_type[geom], model.geom_size[geom]
            shapes = _Shapes([], [], [])
            _add_geom(model, geom, np.zeros(3), (1.0, 0.0, 0.0, 0.0), shapes, self._folder)
            if shapes.collision:
                # PyBullet draws a collision shape that has no visual one: give it an empty one.
                body = self._static_body(_Shapes(shapes.collision, [_EMPTY_MESH], []), pos, rot)
                self._set_friction(body, -1, [geom])
            if not shapes.visual:
                continue
            if kind == _GEOM.mjGEOM_PLANE:
                sides = [(np.eye(3), np.zeros(3), size[:2])]
            elif kind == _GEOM.mjGEOM_BOX:
                sides = [_box_side(size, axis, sign) for axis in range(3) for sign in (1.0, -1.0)]
            else:
                body = self._static_body(_Shapes([], shapes.visual, [geom]), pos, rot)
                self.pieces.append(Piece(geom, body, -1, 0, "static"))
                self._looks.append(None)
                continue
            for side_rot, side_pos, half in sides:
                world_rot, world_pos = rot @ side_rot, pos + rot @ side_pos
                for centre, mesh, corners in _tiles(half, world_pos, world_rot):
                    if kind == _GEOM.mjGEOM_PLANE and any(
                        np.all((corners - point) @ normal < -1e-9) for point, normal in room
                    ):
                        continue
                    body = self._static_body(_Shapes([], [mesh], [geom]), centre, world_rot)
                    self.pieces.append(Piece(geom, body, -1, 0, "static", corners))
                    self._looks.append(None)
            if kind == _GEOM.mjGEOM_BOX and self._geom_look(geom)[0][3] >= 1.0:
                for side_rot, side_pos, half in sides:
                    faces.append(
                        (
                            pos + rot @ side_pos,
                            rot @ side_rot[:, 2],
                            rot @ side_rot[:, 0],
                            rot @ side_rot[:, 1],
                            half[0] - OCCLUDER_MARGIN,
                            half[1] - OCCLUDER_MARGIN,
                        )
                    )

    def _static_body(self, shapes: _Shapes, pos: np.ndarray, rot: np.ndarray) -> int:
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot).reshape(-1))
        return p.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=self._collision(shapes),
            baseVisualShapeIndex=self._visual(shapes),
            basePosition=list(pos),
            baseOrientation=to_xyzw(quat),
            useMaximalCoordinates=True,
            physicsClientId=self.client,
        )

    def _add_single(self, body: int, mass: float) -> None:
        """A body without children: dynamic (free) if ``mass > 0``, else a fixed marker."""
        model = self.model
        geoms = _body_geoms(model, body)
        shapes = _body_shapes(model, body, self._folder)
        if not shapes.collision and not shapes.visual:
            return  # e.g. a mocap target that only carries a site
        quat = to_xyzw(self._static_xquat[body])
        offset = model.body_ipos[body] if mass > 0 else np.zeros(3)
        inertial_quat = to_xyzw(model.body_iquat[body]) if mass > 0 else [0, 0, 0, 1]
        com = self._static_xpos[body] + rotation(quat) @ offset
        uid = p.createMultiBody(
            baseMass=mass,
            baseCollisionShapeIndex=self._collision(shapes),
            baseVisualShapeIndex=self._visual(shapes),
            basePosition=com.tolist(),
            baseOrientation=quat,
            baseInertialFramePosition=offset.tolist(),
            baseInertialFrameOrientation=inertial_quat,
            physicsClientId=self.client,
        )
        if mass > 0:
            inertia = np.maximum(model.body_inertia[body], MIN_INERTIA)
            p.changeDynamics(
                uid,
                -1,
                localInertiaDiagonal=inertia.tolist(),
                linearDamping=0.0,
                angularDamping=0.0,
                physicsClientId=self.client,
            )
        self.parts[body] = Part(uid)
        self._register_visuals(shapes, uid, -1, "moving" if mass > 0 else "marker")
        self._set_friction(uid, -1, geoms)

    def _add_tree(self, subtree: list[int], site_links: Sequence[str]) -> None:
        """A fixed-base multibody: the jointless root is the base, every descendant a link
        jointed as in MuJoCo (hinge -> revolute, slide -> prismatic, none -> fixed)."""
        model = self.model
        root, links = subtree[0], subtree[1:]
        if _body_joints(model, root):
            raise NotImplementedError(f"body {model.body(root).name!r}: a jointed tree root")
        index = {root: -1} | {body: i for i, body in enumerate(links)}
        shapes = {body: _body_shapes(model, body, self._folder) for body in subtree}
        sites = [
            model.site(name).id
            for name in site_links
            if model.site_bodyid[model.site(name).id] in index
        ]
        columns: dict[str, list] = {
            key: []
            for key in (
                "linkMasses",
                "linkCollisionShapeIndices",
                "linkVisualShapeIndices",
                "linkPositions",
                "linkOrientations",
                "linkInertialFramePositions",
                "linkInertialFrameOrientations",
                "linkParentIndices",
                "linkJointTypes",
                "linkJointAxis",
            )
        }

        def add_link(parent: int, pos, quat, mass, ipos, iquat, joint_type, axis, shape) -> None:
            columns["linkMasses"].append(mass)
            columns["linkCollisionShapeIndices"].append(self._collision(shape))
            columns["linkVisualShapeIndices"].append(self._visual(shape))
            columns["linkPositions"].append(list(pos))
            columns["linkOrientations"].append(quat)
            columns["linkInertialFramePositions"].append(list(ipos))
            columns["linkInertialFrameOrientations"].append(iquat)
            columns["linkParentIndices"].append(index[parent] + 1)
            columns["linkJointTypes"].append(joint_type)
            columns["linkJointAxis"].append(list(axis))

        for body in links:
            joints = _body_joints(model, body)
            if len(joints) > 1:
                raise NotImplementedError(f"body {model.body(body).name!r} has several joints")
            joint_type, axis = p.JOINT_FIXED, np.zeros(3)
            if joints:
                joint = joints[0]
                if int(model.jnt_type[joint]) not in _BULLET_JOINTS:
                    raise NotImplementedError(f"joint {model.joint(joint).name!r}: its type")
                if np.any(model.jnt_pos[joint] != 0):
                    raise NotImplementedError(f"joint {model.joint(joint).name!r}: off its body")
                joint_type, axis = _BULLET_JOINTS[int(model.jnt_type[joint])], model.jnt_axis[joint]
            add_link(
                int(model.body_parentid[body]),
                model.body_pos[body],
                to_xyzw(model.body_quat[body]),
                float(model.body_mass[body]),
                model.body_ipos[body],
                to_xyzw(model.body_iquat[body]),
                joint_type,
                axis,
                shapes[body],
            )
        for site in sites:
            add_link(
                int(model.site_bodyid[site]),
                model.site_pos[site],
                to_xyzw(model.site_quat[site]),
                1e-4,
                np.zeros(3),
                [0, 0, 0, 1],
                p.JOINT_FIXED,
                np.zeros(3),
                _Shapes([], [], []),
            )
        uid = p.createMultiBody(
            baseMass=0.0,
            baseCollisionShapeIndex=self._collision(shapes[root]),
            baseVisualShapeIndex=self._visual(shapes[root]),
            basePosition=self._static_xpos[root].tolist(),
            baseOrientation=to_xyzw(self._static_xquat[root]),
            physicsClientId=self.client,
            **columns,
        )
        for body, link in index.items():
            self.parts[body] = Part(uid, link)
            self._register_visuals(shapes[body], uid, link, "moving")
            self._set_friction(uid, link, _body_geoms(model, body))
            if link >= 0:
                inertia = np.maximum(model.body_inertia[body], MIN_INERTIA)
                p.changeDynamics(
                    uid,
                    link,
                    localInertiaDiagonal=inertia.tolist(),
                    physicsClientId=self.client,
                )
            for joint in _body_joints(model, body):
                self.joints[model.joint(joint).name] = (uid, link)
                dof = model.jnt_dofadr[joint]
                limits = {}
                if model.jnt_limited[joint]:
                    low, high = model.jnt_range[joint]
                    limits = {"jointLowerLimit": float(low), "jointUpperLimit": float(high)}
                p.changeDynamics(
                    uid,
                    link,
                    jointDamping=float(model.dof_damping[dof]),
                    physicsClientId=self.client,
                    **limits,
                )
        for offset, site in enumerate(sites):
            self.sites[model.site(site).name] = Part(uid, len(links) + offset)

    def _collision(self, shapes: _Shapes) -> int:
        if not shapes.collision:
            return -1
        if len(shapes.collision) == 1:
            return p.createCollisionShape(physicsClientId=self.client, **shapes.collision[0])
        arrays = _as_arrays(shapes.collision, "collision")
        return p.createCollisionShapeArray(physicsClientId=self.client, **arrays)

    def _visual(self, shapes: _Shapes) -> int:
        if not shapes.visual:
            return -1
        if len(shapes.visual) == 1:
            return p.createVisualShape(physicsClientId=self.client, **shapes.visual[0])
        if any("vertices" in s for s in shapes.visual):
            raise NotImplementedError("a textured box or plane shares its body with other geoms")
        arrays = _as_arrays(shapes.visual, "visual")
        return p.createVisualShapeArray(physicsClientId=self.client, **arrays)

    def _register_visuals(self, shapes: _Shapes, body: int, link: int, layer: str) -> None:
        for shape, geom in enumerate(shapes.visual_geoms):
            self.pieces.append(Piece(geom, body, link, shape, layer))
            self._looks.append(None)

    def _set_friction(self, body: int, link: int, geoms: Sequence[int]) -> None:
        """MuJoCo's sliding, torsional and rolling friction of the body's first colliding geom.

        MuJoCo combines two geoms' coefficients by their maximum, Bullet by their product; the
        scenes give every surface but the fingers and objects a sliding friction of 1, so the
        product equals the maximum where it matters (sliding)."""
        colliding = [g for g in geoms if _collides(self.model, g)]
        if not colliding:
            return
        sliding, torsional, rolling = self.model.geom_friction[colliding[0]]
        p.changeDynamics(
            body,
            link,
            lateralFriction=float(sliding),
            spinningFriction=float(torsional),
            rollingFriction=float(rolling),
            physicsClientId=self.client,
        )


def _body_joints(model: mujoco.MjModel, body: int) -> list[int]:
    start, count = model.body_jntadr[body], model.body_jntnum[body]
    return list(range(start, start + count)) if count > 0 else []


def _body_geoms(model: mujoco.MjModel, body: int) -> list[int]:
    start, count = model.body_geomadr[body], model.body_geomnum[body]
    return list(range(start, start + count)) if count > 0 else []


def _collides(model: mujoco.MjModel, geom: int) -> bool:
    return bool(model.geom_contype[geom] or model.geom_conaffinity[geom])


def _visible(model: mujoco.MjModel, geom: int) -> bool:
    """MuJoCo draws geom groups 0-2 by default."""
    return model.geom_group[geom] < 3 and model.geom_rgba[geom][3] > 0


def _body_shapes(model: mujoco.MjModel, body: int, folder: str) -> _Shapes:
    shapes = _Shapes([], [], [])
    for geom in _body_geoms(model, body):
        _add_geom(model, geom, model.geom_pos[geom], model.geom_quat[geom], shapes, folder)
    return shapes


def _add_geom(
    model: mujoco.MjModel,
    geom: int,
    pos: Sequence[float],
    quat_wxyz: Sequence[float],
    shapes: _Shapes,
    folder: str,
) -> None:
    """Append a geom's collision shape (if it collides) and visual shape (if it is drawn), in
    the frame of the PyBullet link that carries it; round visuals are meshes written to
    ``folder`` (see :func:`_round_mesh`)."""
    kind, size = int(model.geom_type[geom]), model.geom_size[geom]
    frame_pos, frame_quat = [float(v) for v in pos], to_xyzw(quat_wxyz)
    if kind == _GEOM.mjGEOM_PLANE:
        collision = {"shapeType": p.GEOM_PLANE, "planeNormal": [0, 0, 1]}
        visual = _quad_mesh(size[0], size[1])
    elif kind in _BULLET_SHAPES:
        shape = _BULLET_SHAPES[kind]
        collision = {"shapeType": shape}
        if shape == p.GEOM_BOX:
            collision["halfExtents"] = size[:3].tolist()
        else:
            collision["radius"] = float(size[0])
        if shape in (p.GEOM_CAPSULE, p.GEOM_CYLINDER):
            collision["height"] = 2.0 * float(size[1])  # MuJoCo: half the length
        visual = dict(collision) if shape == p.GEOM_BOX else _round_mesh(model, kind, size, folder)
    else:
        raise NotImplementedError(f"geom {model.geom(geom).name or geom!r}: type {kind}")
    if _collides(model, geom):
        shapes.collision.append(
            collision
            | {"collisionFramePosition": frame_pos, "collisionFrameOrientation": frame_quat}
        )
    if _visible(model, geom):
        shapes.visual.append(
            visual | {"visualFramePosition": frame_pos, "visualFrameOrientation": frame_quat}
        )
        shapes.visual_geoms.append(geom)


def _clip(
    points: np.ndarray, count: np.ndarray, eye: np.ndarray, normal: np.ndarray, offset: float
) -> tuple[np.ndarray, np.ndarray]:
    """Clip convex polygons (``points`` (N, V, 3), the first ``count`` of each row in order
    around it) to the half-space ``normal . (x - eye) >= offset`` (Sutherland-Hodgman, all
    rows at once); returns the clipped polygons in the same form."""
    rows, slots = points.shape[:2]
    row, index = np.arange(rows)[:, None], np.arange(slots)
    following = (index + 1) % np.maximum(count, 1)[:, None]  # (N, V)
    distance = (points - eye) @ normal - offset
    distance_next = distance[row, following]
    inside, inside_next = distance >= 0, distance_next >= 0
    present = index < count[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = distance / (distance - distance_next)
        crossing = points + fraction[..., None] * (points[row, following] - points)
    candidates = np.stack([points, crossing], axis=2).reshape(rows, 2 * slots, 3)
    keep = np.stack([present & inside, present & (inside != inside_next)], axis=2)
    keep = keep.reshape(rows, 2 * slots)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept ones first, in order
    count = keep.sum(axis=1)
    width = max(int(count.max(initial=0)), 1)
    return candidates[row, order[:, :width]], count


def _box_side(
    half: np.ndarray, axis: int, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One face of a box: its frame in the box's (columns: two edges and the outward normal),
    its centre and its two half-sizes."""
    u, v = (axis + 1) % 3, (axis + 2) % 3
    frame = np.zeros((3, 3))
    frame[u, 0], frame[v, 1], frame[axis, 2] = sign, 1.0, sign
    centre = np.zeros(3)
    centre[axis] = sign * half[axis]
    return frame, centre, np.array([half[u], half[v]])


def _tiles(
    half: np.ndarray, pos: np.ndarray, rot: np.ndarray
) -> list[tuple[np.ndarray, dict, np.ndarray]]:
    """A flat rectangle (centre ``pos``, frame ``rot`` whose z is its normal) cut into tiles of
    at most ``TILE`` metres: (world centre, quad mesh textured with the tile's share of the
    whole rectangle's texture, world corners (4, 3) in order around)."""
    counts = np.maximum(np.ceil(2 * half / TILE).astype(int), 1)
    edges = [np.linspace(-h, h, n + 1) for h, n in zip(half, counts, strict=True)]
    tiles = []
    for i in range(counts[0]):
        for j in range(counts[1]):
            low = np.array([edges[0][i], edges[1][j]])
            high = np.array([edges[0][i + 1], edges[1][j + 1]])
            middle, extent = (low + high) / 2, (high - low) / 2
            square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * extent + middle
            corners = pos + np.column_stack([square, np.zeros(4)]) @ rot.T
            uv_low, uv_high = (low + half) / (2 * half), (high + half) / (2 * half)
            mesh = _quad_mesh(*extent, uv_low, uv_high)
            tiles.append((pos + rot @ [*middle, 0.0], mesh, corners))
    return tiles


def _round_mesh(model: mujoco.MjModel, kind: int, size: np.ndarray, folder: str) -> dict:
    """A sphere, capsule or cylinder as a mesh with MuJoCo's own rendering resolution
    (``visual/quality`` numslices, numstacks), written as an OBJ file (PyBullet's compound
    visual shapes take meshes from files only). PyBullet's own round shapes have thousands of
    triangles, which TinyRenderer spends most of a frame on."""
    slices = max(int(model.vis.quality.numslices), 3)
    stacks = max(int(model.vis.quality.numstacks), 1)
    radius = float(size[0])
    half = 0.0 if kind == _GEOM.mjGEOM_SPHERE else float(size[1])
    angles = np.linspace(0.0, 2 * np.pi, slices, endpoint=False)
    # The side is cut into pieces about a diameter long: TinyRenderer scans the screen box of
    # each triangle, and a long sliver seen slantwise has a large one.
    lengthwise = max(int(np.ceil(half / radius)), 1) if half else 0
    sides = [(z, 1.0, 0.0) for z in np.linspace(-half, half, lengthwise + 1)]
    if kind == _GEOM.mjGEOM_CYLINDER:
        rings = sides  # each cap is added as a fan below
    else:
        # Hemispheres from pole to equator around the side.
        latitudes = np.linspace(0.0, np.pi / 2, stacks + 1)[1:]
        rings = (
            [(-half, np.cos(lat), -np.sin(lat)) for lat in latitudes[::-1]]
            + sides
            + [(half, np.cos(lat), np.sin(lat)) for lat in latitudes]
        )
    vertices, normals, faces = [], [], []
    for z, radial, axial in rings:
        for angle in angles:
            normal = [radial * np.cos(angle), radial * np.sin(angle), axial]
            vertices.append([radius * normal[0], radius * normal[1], z + radius * axial])
            normals.append(normal)
    for ring in range(len(rings) - 1):
        for i in range(slices):
            a, b = ring * slices + i, ring * slices + (i + 1) % slices
            faces += [(a, b, b + slices), (a, b + slices, a + slices)]
    if kind == _GEOM.mjGEOM_CYLINDER:
        for z, sign in ((-half, -1.0), (half, 1.0)):
            centre = len(vertices)
            vertices.append([0.0, 0.0, z])
            normals.append([0.0, 0.0, sign])
            for angle in angles:
                vertices.append([radius * np.cos(angle), radius * np.sin(angle), z])
                normals.append([0.0, 0.0, sign])
            for i in range(slices):
                a, b = centre + 1 + i, centre + 1 + (i + 1) % slices
                faces.append((centre, a, b) if sign > 0 else (centre, b, a))
    path = os.path.join(folder, f"{kind}_{radius:.6f}_{half:.6f}.obj")
    with open(path, "w") as file:
        file.writelines(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in vertices)
        file.writelines(f"vn {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in normals)
        file.writelines(
            f"f {a + 1}//{a + 1} {b + 1}//{b + 1} {c + 1}//{c + 1}\n" for a, b, c in faces
        )
    return {"shapeType": p.GEOM_MESH, "fileName": path, "meshScale": [1.0, 1.0, 1.0]}


def _quad_mesh(
    half_x: float,
    half_y: float,
    uv_low: Sequence[float] = (0.0, 0.0),
    uv_high: Sequence[float] = (1.0, 1.0),
) -> dict:
    """A plane's visible rectangle, facing +z (a textured mesh, as TinyRenderer maps textures
    on meshes only)."""
    vertices = [
        [-half_x, -half_y, 0],
        [half_x, -half_y, 0],
        [half_x, half_y, 0],
        [-half_x, half_y, 0],
    ]
    return {
        "shapeType": p.GEOM_MESH,
        "vertices": vertices,
        "indices": [0, 1, 2, 0, 2, 3],
        "uvs": [
            [uv_low[0], uv_low[1]],
            [uv_high[0], uv_low[1]],
            [uv_high[0], uv_high[1]],
            [uv_low[0], uv_high[1]],
        ],
        "normals": [[0, 0, 1]] * 4,
    }


def _as_arrays(shapes: list[dict], kind: str) -> dict:
    """Per-shape keyword dicts as the column lists of ``create*ShapeArray``."""
    frame = "collisionFrame" if kind == "collision" else "visualFrame"
    length = "height" if kind == "collision" else "length"
    return {
        "shapeTypes": [s["shapeType"] for s in shapes],
        "radii": [s.get("radius", 0.0) for s in shapes],
        "halfExtents": [s.get("halfExtents", [0.0, 0.0, 0.0]) for s in shapes],
        "lengths": [s.get(length, 0.0) for s in shapes],
        **(
            {
                "fileNames": [s.get("fileName", "") for s in shapes],
                "meshScales": [s.get("meshScale", [1.0, 1.0, 1.0]) for s in shapes],
            }
            if kind == "visual"
            else {}
        ),
        f"{frame}Positions": [s[f"{frame}Position"] for s in shapes],
        f"{frame}Orientations": [s[f"{frame}Orientation"] for s in shapes],
    }


class SceneCameras:
    """Renders a scene's MJCF cameras with PyBullet's TinyRenderer.

    TinyRenderer shades on the CPU and scans the whole screen box of every triangle, so two
    things keep it fast. Cameras that stay put (front, side) draw the static and marker pieces
    once per episode and then, each frame, only what moves, composited by depth: the same image.
    A moving camera (wrist) first hides the static pieces it cannot see
    (:meth:`MjcfScene.culled`). Call :meth:`invalidate` when the static part changes (a new
    episode, a moved mocap body, new colours).

    Lighting: TinyRenderer has one directional light, so the MJCF's lights are folded into one
    (the direction towards them from the scene's centre, weighted by brightness) plus an
    ambient term; ``ambient`` and ``diffuse`` are set so the mean colours of the views come
    close to MuJoCo's.
    """

    def __init__(
        self,
        scene: MjcfScene,
        cameras: Sequence[int],
        height: int,
        width: int,
        ambient: float = 0.5,
        diffuse: float = 0.6,
    ) -> None:
        self.scene, self.cameras = scene, tuple(cameras)
        self.height, self.width = height, width
        self.ambient, self.diffuse = ambient, diffuse
        model = scene.model
        self.near = model.vis.map.znear * model.stat.extent
        self.far = model.vis.map.zfar * model.stat.extent
        self._fixed = [
            c
            for c in self.cameras
            if scene.is_static(int(model.cam_bodyid[c]))
            and (
                model.cam_mode[c] != mujoco.mjtCamLight.mjCAMLIGHT_TARGETBODY
                or scene.is_static(int(model.cam_targetbodyid[c]))
            )
        ]
        self._moving = scene.layer("moving")
        self._projections: dict[tuple[int, int, int], list[float]] = {}
        self._fixed_frames: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._background: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._light: dict[str, object] | None = None

    def invalidate(self) -> None:
        self._fixed_frames.clear()
        self._background.clear()
        self._light = None

    def render(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Camera id -> (RGB uint8 (H, W, 3), depth float32 (H, W) in metres along the
        optical axis)."""
        scene, size = self.scene, (self.height, self.width)
        frames = {}
        for camera in self.cameras:
            if camera in self._fixed:
                continue
            frame = scene.camera_frame(camera)
            scene.show(~scene.culled(*frame, self._tan_half(camera, *size), self.near))
            frames[camera] = self._draw(camera, *size, frame)
        if self._fixed:
            if not self._background:
                scene.show(~self._moving)
                for camera in self._fixed:
                    self._background[camera] = self._draw(camera, *size, self._frame(camera))
            scene.show(self._moving)
            for camera in self._fixed:
                rgb, depth = self._draw(camera, *size, self._frame(camera))
                background_rgb, background_depth = self._background[camera]
                nearer = depth < background_depth
                frames[camera] = (
                    np.where(nearer[..., None], rgb, background_rgb),
                    np.where(nearer, depth, background_depth),
                )
        return {camera: frames[camera] for camera in self.cameras}

    def draw(self, camera: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """One plain TinyRenderer pass of the whole scene: RGB and depth (m)."""
        self.scene.show(np.ones(len(self.scene.pieces), dtype=bool))
        return self._draw(camera, height, width, self.scene.camera_frame(camera))

    def _frame(self, camera: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if camera not in self._fixed_frames:
            self._fixed_frames[camera] = self.scene.camera_frame(camera)
        return self._fixed_frames[camera]

    def _tan_half(self, camera: int, height: int, width: int) -> tuple[float, float]:
        tan_v = float(np.tan(np.radians(self.scene.model.cam_fovy[camera]) / 2))
        return tan_v, tan_v * width / height

    def _draw(
        self,
        camera: int,
        height: int,
        width: int,
        frame: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        model = self.scene.model
        key = (camera, height, width)
        if key not in self._projections:
            self._projections[key] = p.computeProjectionMatrixFOV(
                float(model.cam_fovy[camera]), width / height, self.near, self.far
            )
        if self._light is None:
            direction, brightness = self._lights(model.stat.center)
            self._light = {
                "lightDirection": direction.tolist(),
                "lightAmbientCoeff": self.ambient,
                "lightDiffuseCoeff": self.diffuse * brightness,
                "lightSpecularCoeff": 0.0,
            }
        eye, forward, up = frame
        _, _, rgba, zbuffer, _ = p.getCameraImage(
            width,
            height,
            p.computeViewMatrix(eye.tolist(), (eye + forward).tolist(), up.tolist()),
            self._projections[key],
            shadow=0,
            renderer=p.ER_TINY_RENDERER,
            flags=p.ER_NO_SEGMENTATION_MASK,
            physicsClientId=self.scene.client,
            **self._light,
        )
        rgb = np.reshape(rgba, (height, width, 4))[..., :3].astype(np.uint8)
        zbuffer = np.reshape(zbuffer, (height, width)).astype(np.float64)
        depth = self.far * self.near / (self.far - (self.far - self.near) * zbuffer)
        return rgb, depth.astype(np.float32)

    def _lights(self, target: np.ndarray) -> tuple[np.ndarray, float]:
        """The direction towards the lights from ``target``, weighted by their brightness, and
        their summed brightness."""
        model = self.scene.model
        brightness = model.light_diffuse.mean(axis=1)
        towards = model.light_pos - target
        towards /= np.linalg.norm(towards, axis=1, keepdims=True)
        direction = (brightness[:, None] * towards).sum(axis=0)
        return direction / max(np.linalg.norm(direction), 1e-9), float(brightness.sum())
