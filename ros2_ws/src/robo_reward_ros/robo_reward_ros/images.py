"""Camera messages <-> uint8 RGB numpy images, the camera observation of robo_reward.

``sensor_msgs/Image`` with 8-bit encodings (rgb8, bgr8, rgba8, bgra8, mono8) and
``sensor_msgs/CompressedImage`` (jpeg or png, as image_transport's ``compressed`` plugin writes
them) become uint8 ``(H, W, 3)`` RGB arrays; the reverse builds messages for the simulator and the
tests. A message that cannot be read as written (an unknown encoding, a data length that does not
match height x step, an undecodable payload) raises :class:`ImageConversionError` saying which.
"""

from __future__ import annotations

import array

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from robo_reward_ros.conversions import time_to_ns

CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}
"""Encodings read and written, with their channels (8 bits each)."""
COMPRESSED_FORMATS = ('jpeg', 'png')


class ImageConversionError(ValueError):
    """A camera message that cannot be turned into an RGB image."""


def image_to_rgb(msg: Image) -> np.ndarray:
    """A ``sensor_msgs/Image`` as uint8 ``(H, W, 3)`` RGB (mono8 is repeated to three channels,
    alpha is dropped). The array owns its memory."""
    encoding = msg.encoding.lower()
    if encoding not in CHANNELS:
        raise ImageConversionError(
            f'unsupported image encoding {msg.encoding!r}; supported: {sorted(CHANNELS)} '
            '(convert 16-bit or Bayer images with image_proc first)'
        )
    channels = CHANNELS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height < 1 or width < 1:
        raise ImageConversionError(f'empty image: {width}x{height}')
    if step < width * channels:
        raise ImageConversionError(
            f'step {step} is smaller than width x channels = {width} x {channels} '
            f'for a {encoding} image'
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != height * step:
        raise ImageConversionError(
            f'data has {data.size} bytes, expected height x step = {height} x {step} = '
            f'{height * step} for a {width}x{height} {encoding} image'
        )
    rows = data.reshape(height, step)[:, : width * channels]
    pixels = rows.reshape(height, width, channels)
    if encoding == 'rgb8':
        return pixels.copy()
    if encoding == 'bgr8':
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if encoding == 'rgba8':
        return np.ascontiguousarray(pixels[:, :, :3])
    if encoding == 'bgra8':
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.repeat(pixels, 3, axis=2)


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """A ``sensor_msgs/CompressedImage`` (jpeg or png, grey or colour) as uint8 RGB."""
    fmt = msg.format.lower()
    if fmt and not any(name in fmt for name in (*COMPRESSED_FORMATS, 'jpg')):
        raise ImageConversionError(
            f'unsupported compressed format {msg.format!r}; supported: jpeg, png '
            '(compressedDepth and video codecs are not camera images)'
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ImageConversionError('compressed image has no data')
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ImageConversionError(
            f'could not decode {data.size} bytes of compressed image (format {msg.format!r})'
        )
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageConversionError(
            f'expected uint8 RGB of shape (H, W, 3), got {image.dtype} {image.shape}'
        )
    return np.ascontiguousarray(image)


def rgb_to_image(
    image: np.ndarray, encoding: str = 'rgb8', stamp=None, frame_id: str = ''
) -> Image:
    """A ``sensor_msgs/Image`` of ``encoding`` from uint8 ``(H, W, 3)`` RGB; ``stamp`` is a
    ``builtin_interfaces/Time``."""
    image = _check_rgb(image)
    encoding = encoding.lower()
    if encoding not in CHANNELS:
        raise ImageConversionError(
            f'unsupported image encoding {encoding!r}; supported: {sorted(CHANNELS)}'
        )
    if encoding == 'bgr8':
        pixels = image[:, :, ::-1]
    elif encoding in ('rgba8', 'bgra8'):
        colour = image if encoding == 'rgba8' else image[:, :, ::-1]
        alpha = np.full((*image.shape[:2], 1), 255, np.uint8)
        pixels = np.concatenate([colour, alpha], axis=2)
    elif encoding == 'mono8':
        pixels = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    else:
        pixels = image
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(image.shape[1] * CHANNELS[encoding])
    msg.data = array.array('B', np.ascontiguousarray(pixels).tobytes())
    return msg


def rgb_to_compressed(
    image: np.ndarray, fmt: str = 'jpeg', quality: int = 90, stamp=None, frame_id: str = ''
) -> CompressedImage:
    """A ``sensor_msgs/CompressedImage`` (jpeg or png) from uint8 ``(H, W, 3)`` RGB, with
    image_transport's format string (``"rgb8; jpeg compressed bgr8"``)."""
    image = _check_rgb(image)
    fmt = fmt.lower()
    if fmt not in COMPRESSED_FORMATS:
        raise ImageConversionError(f'unsupported compressed format {fmt!r}; use jpeg or png')
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == 'jpeg' else []
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    ok, encoded = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png', bgr, params)
    if not ok:
        raise ImageConversionError(f'cv2 could not encode a {image.shape} image as {fmt}')
    msg = CompressedImage()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.format = f'rgb8; {fmt} compressed bgr8'
    msg.data = array.array('B', encoded.tobytes())
    return msg


def message_to_rgb(msg: Image | CompressedImage) -> np.ndarray:
    """Either kind of camera message as uint8 ``(H, W, 3)`` RGB."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg)
    if isinstance(msg, Image):
        return image_to_rgb(msg)
    raise ImageConversionError(f'not a camera image message: {type(msg).__name__}')


def stamp_ns(msg: Image | CompressedImage) -> int:
    """The header stamp in integer nanoseconds."""
    return time_to_ns(msg.header.stamp)
