"""The PyBullet backend: the rover maze and tabletop tasks rebuilt in a second simulator, with the
observation and action spaces of the MuJoCo versions, for the cross-simulator check (``bench
crosssim``). Rendering uses PyBullet's CPU TinyRenderer, so no GL is needed. (pybullet prints a
build-time line to stderr when first imported; that is pybullet's own, not an error.)"""
