"""grm_reward: GRM progress, reward and completion from N camera topics (a lifecycle node).

All logic is :class:`robo_reward.streams.GRMRewardStream`; this node moves messages.

Lifecycle
    configure: load the GRM checkpoint and the reference demo (fails, staying unconfigured, with
    the reason in the log when a parameter is wrong or a file is missing); activate: subscribe to
    the cameras and publish; deactivate: unsubscribe; cleanup: free the model.
Reference demo
    a trajectory ``.npz``, a dataset directory (episode ``reference_episode``) or a rosbag2
    folder recorded on this node's camera topics (e.g. by demo_recorder): the bag is read on the
    node's ``views`` / ``topics``, resolved as the subscriptions are (namespace, remappings; a
    topic recorded under its other transport, raw or ``/compressed``, is found too), views
    aligned by header stamp and resized to the model's input, as ``robo-reward adapt --demo``
    reads it.
Subscribes
    one topic per view (``topics``), ``sensor_msgs/Image`` (rgb8, bgr8, rgba8, bgra8, mono8) or
    ``sensor_msgs/CompressedImage`` (jpeg, png), sensor-data QoS; frames are synchronised by
    header stamp within ``tolerance_ms``. Optionally ``episode_topic`` (``std_msgs/Int32``, e.g.
    sim_bridge's ``sim/episode``): every message starts a new episode.
Publishes
    ``~/progress`` (``std_msgs/Float32``, Φ in [0, 1]), ``~/completion`` (``std_msgs/Bool``) and
    ``~/reward`` (``std_msgs/Float32``, γΦ(s') − Φ(s) + success_bonus·completion) once per
    synchronised step, in that order. The first step of an episode has no transition, so it
    publishes progress (0) and completion but no reward. ``/diagnostics``
    (``diagnostic_msgs/DiagnosticArray``) at 1 Hz: level, what is wrong (stale views by name,
    skipped steps and why, refused frames, clock jumps) and key values (last stamp, progress,
    completion probability, dropped frames, stamp -> publish latency p50/p99), and what the
    node itself saw: frames lost before it read them (``lost_frames``: gaps in the publishers'
    sequence numbers, i.e. cameras faster than the node; the sensor-data queue keeps the
    newest 5) and frames dropped as stale (``stale_frames``, with ``max_delay_ms``).
Services
    ``~/reset`` (``std_srvs/Trigger``): the next synchronised step starts a new episode.

A stale or missing camera never yields a stale or guessed reward: with ``missing_view: skip``
(default) nothing is published for such a step; with ``mask`` an estimate from the remaining
views is published, and diagnostics say so. With ``max_delay_ms`` set, a frame that arrives
later than that after its stamp (a camera backlog, frames stamped before this node started, a
node that fell behind) is dropped and counted, so no reward is computed from it; this needs
camera stamps on the node's clock (``use_sim_time`` behind a simulator), hence off by default.
Plain ``std_msgs`` outputs carry no stamp; the stamp of the last estimate is in the diagnostics
(``last_stamp_ns``).

Run: ``ros2 run robo_reward_ros grm_reward --ros-args --params-file config/grm_reward.yaml``
(or ``python -m robo_reward_ros.grm_reward``), then configure and activate through
``~/change_state`` (or set ``autostart: true``).
"""

from __future__ import annotations

import gc
import math
from collections import Counter

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.exceptions import ParameterUninitializedException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, Float32, Int32
from std_srvs.srv import Trigger

from robo_reward_ros.common import SENSOR_QOS, InputGaps, NodeConfigError, declare, run_node
from robo_reward_ros.images import ImageConversionError, message_to_rgb, stamp_ns

TRANSPORTS = ('auto', 'raw', 'compressed')

PARAMETERS = {
    'views': (
        ['front', 'side', 'wrist'],
        'camera views, named as in the GRM checkpoint (a subset of its views)',
    ),
    'topics': (
        Parameter.Type.STRING_ARRAY,
        'image topic per view, same order as views (unset: cam/<view>/image_raw)',
    ),
    'transports': (
        ['auto'],
        'per topic (or one for all): raw (sensor_msgs/Image), compressed '
        '(sensor_msgs/CompressedImage) or auto (compressed when the topic ends in /compressed)',
    ),
    'checkpoint': ('', 'GRM checkpoint (.safetensors), e.g. from robo-reward adapt; empty: the '
                   'general model shipped with robo_reward'),
    'reference_demo': ('', 'reference demonstration (its first and last frames condition the '
                       'model): a trajectory .npz, a dataset directory, or a rosbag2 folder '
                       'recorded on the topics of views/topics; required'),
    'reference_episode': (0, 'episode of the reference demo when it is a dataset directory'),
    'tolerance_ms': (10.0, 'frames of one step lie within this of the step reference stamp'),
    'max_age_ms': (200.0, 'a frame waits at most this long for its partners; a view silent '
                   'for longer is stale'),
    'missing_view': ('skip', 'a step with a stale view: skip (publish nothing) or mask '
                     '(estimate from the other views, reported on /diagnostics)'),
    'gamma': (0.99, "discount of the shaping term gamma*phi' - phi (the learner's)"),
    'success_bonus': (1.0, 'added to the reward while the episode reads as complete (0: off)'),
    'image_size': (0, 'model input size the images are resized to; 0: the checkpoint size '
                   '(another value must match it)'),
    'torch_threads': (1, 'CPU threads of the model (1 suits a node sharing the CPU)'),
    'episode_topic': ('', 'std_msgs/Int32 topic whose every message starts a new episode '
                      '(e.g. sim/episode of sim_bridge); empty: none, use ~/reset'),
    'max_delay_ms': (0.0, 'a frame arriving more than this after its header stamp (node clock) '
                     'is stale: dropped and reported; 0: off (needed when camera stamps are on '
                     'another clock, e.g. a simulator without use_sim_time)'),
    'autostart': (False, 'configure and activate at start-up'),
}


def topic_is_compressed(topic: str, transport: str) -> bool:
    """Whether ``topic`` carries CompressedImage, by its ``transport`` (auto: its name)."""
    if transport not in TRANSPORTS:
        raise NodeConfigError(f'transport must be one of {TRANSPORTS}, got {transport!r}')
    if transport == 'auto':
        return topic.rstrip('/').endswith('/compressed')
    return transport == 'compressed'


class GRMRewardNode(LifecycleNode):
    """See the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__('grm_reward', **kwargs)
        for name, (default, description) in PARAMETERS.items():
            declare(self, name, default, description, required=False)
        self._stream = None
        self._camera_subs = []
        self._episode_sub = None
        self._outputs = {}
        self._state_label = 'unconfigured'
        self._gaps = InputGaps()
        self._stale = Counter()
        self._stale_reported = Counter()
        self._max_delay_ns = 0
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(1.0, self._publish_diagnostics)
        self.create_service(Trigger, '~/reset', self._on_reset)

    # ------------------------------------------------------------------ parameters
    def _value(self, name: str):
        try:
            return self.get_parameter(name).value
        except ParameterUninitializedException:  # topics, when not set
            return None

    def _settings(self) -> dict:
        """Parameters read and checked at configure; NodeConfigError says what is wrong."""
        views = list(self._value('views') or [])
        if not views:
            raise NodeConfigError('views is empty: name at least one camera view')
        topics = self._value('topics')
        topics = [f'cam/{view}/image_raw' for view in views] if not topics else list(topics)
        if len(topics) != len(views):
            raise NodeConfigError(
                f'topics has {len(topics)} entries but views has {len(views)}: give one topic '
                'per view, in the same order')
        transports = list(self._value('transports') or ['auto'])
        if len(transports) == 1:
            transports *= len(views)
        if len(transports) != len(views):
            raise NodeConfigError(
                f'transports has {len(transports)} entries: give one, or one per view '
                f'({len(views)})')
        compressed = [topic_is_compressed(t, m) for t, m in zip(topics, transports, strict=True)]
        max_delay_ms = float(self._value('max_delay_ms'))
        if not (math.isfinite(max_delay_ms) and max_delay_ms >= 0):
            raise NodeConfigError(f'max_delay_ms must be a number >= 0, got {max_delay_ms}')
        reference = str(self._value('reference_demo'))
        if not reference:
            raise NodeConfigError(
                'reference_demo is empty: give a successful demonstration (.npz trajectory, '
                'dataset directory or rosbag2 folder, e.g. recorded with demo_recorder)')
        return {
            'views': views,
            'topics': topics,
            'compressed': compressed,
            'reference': reference,
            'episode': int(self._value('reference_episode')),
            'checkpoint': str(self._value('checkpoint')),
            'image_size': int(self._value('image_size')),
            'threads': int(self._value('torch_threads')),
            'episode_topic': str(self._value('episode_topic')),
            'max_delay_ns': round(max_delay_ms * 1e6),
        }

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except (NodeConfigError, ValueError, FileNotFoundError, OSError) as error:
            self.get_logger().error(f'configure failed: {error}')
            self._stream = None
            return TransitionCallbackReturn.FAILURE
        self._state_label = 'inactive'
        return super().on_configure(state)

    def _configure(self) -> None:
        import torch

        from robo_reward.streams import (
            GRMRewardStream,
            StreamConfig,
            load_grm_model,
            load_reference_demo,
        )

        settings = self._settings()
        if settings['threads'] < 1:
            raise NodeConfigError(f'torch_threads must be >= 1, got {settings["threads"]}')
        torch.set_num_threads(settings['threads'])
        config = StreamConfig(
            views=tuple(settings['views']),
            gamma=float(self._value('gamma')),
            success_bonus=float(self._value('success_bonus')),
            missing_view=str(self._value('missing_view')),
            tolerance_ms=float(self._value('tolerance_ms')),
            max_age_ms=float(self._value('max_age_ms')),
        )
        grm = load_grm_model(settings['checkpoint'])
        size = settings['image_size']
        if size and size != grm.config.image_size:
            raise NodeConfigError(
                f'image_size {size} does not match the checkpoint ({grm.config.image_size}); '
                'set 0 to use the checkpoint size')
        topics = {
            view: self.resolve_topic_name(topic)
            for view, topic in zip(settings['views'], settings['topics'], strict=True)}
        demo = load_reference_demo(
            settings['reference'], settings['episode'], topics=topics,
            image_size=grm.config.image_size)
        self._settings_used = settings
        self._max_delay_ns = settings['max_delay_ns']
        self._stream = GRMRewardStream(
            grm, demo, config, clock_ns=lambda: self.get_clock().now().nanoseconds)
        self._outputs = {
            'progress': self.create_lifecycle_publisher(Float32, '~/progress', 10),
            'completion': self.create_lifecycle_publisher(Bool, '~/completion', 10),
            'reward': self.create_lifecycle_publisher(Float32, '~/reward', 10),
        }
        source = settings['checkpoint'] or 'the shipped general model'
        self.get_logger().info(
            f'configured: GRM from {source}, reference {settings["reference"]} '
            f'({demo.task}, {demo.num_frames} frames), views {settings["views"]}')

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        settings = self._settings_used
        if settings['episode_topic']:  # first: served first when it and a frame are both ready
            self._episode_sub = self.create_subscription(
                Int32, settings['episode_topic'], self._on_episode, 10)
        for view, topic, compressed in zip(
                settings['views'], settings['topics'], settings['compressed'], strict=True):
            kind = CompressedImage if compressed else Image
            self._camera_subs.append(self.create_subscription(
                kind, topic, lambda msg, info, view=view: self._on_image(view, msg, info),
                SENSOR_QOS))
            self.get_logger().info(f'view {view}: {kind.__name__} on {topic}')
        self._stream.reset()
        self._state_label = 'active'
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._unsubscribe()
        self._state_label = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self._state_label = 'unconfigured'
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self._state_label = 'finalized'
        return super().on_shutdown(state)

    def _unsubscribe(self) -> None:
        for sub in self._camera_subs:
            self.destroy_subscription(sub)
        self._camera_subs = []
        if self._episode_sub is not None:
            self.destroy_subscription(self._episode_sub)
            self._episode_sub = None

    def _release(self) -> None:
        self._unsubscribe()
        for publisher in self._outputs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._outputs = {}
        self._stream = None
        gc.collect()

    # ------------------------------------------------------------------ callbacks
    def _active(self) -> bool:
        return self._stream is not None and self._state_label == 'active'

    def _on_image(self, view: str, msg, info=None) -> None:
        if not self._active():
            return
        self._gaps.note(view, info)
        stream = self._stream
        if self._max_delay_ns:
            delay = self.get_clock().now().nanoseconds - stamp_ns(msg)
            if delay > self._max_delay_ns:
                self._stale[view] += 1
                return
        try:
            rgb = message_to_rgb(msg)
        except ImageConversionError as error:
            stream.note_rejected(view, str(error))
            self.get_logger().error(f'view {view}: {error}', throttle_duration_sec=5.0)
            return
        try:
            estimates = stream.push(view, stamp_ns(msg), rgb)
        except ValueError as error:  # a refused frame (counted) or a non-finite progress
            self.get_logger().error(f'view {view}: {error}', throttle_duration_sec=5.0)
            return
        for estimate in estimates:
            self._outputs['progress'].publish(Float32(data=estimate.progress))
            self._outputs['completion'].publish(Bool(data=estimate.completion))
            if estimate.reward is not None:
                self._outputs['reward'].publish(Float32(data=estimate.reward))

    def _input_report(self, status: DiagnosticStatus) -> None:
        """Add what the node saw before the stream: frames lost on the way, stale frames."""
        lost, stale = self._gaps.new(), self._stale - self._stale_reported
        self._stale_reported = Counter(self._stale)
        problems = []
        if lost:
            per_view = ', '.join(f'{v}: {n}' for v, n in sorted(lost.items()))
            problems.append(
                f'{sum(lost.values())} frame(s) lost before grm_reward read them ({per_view}): '
                'cameras faster than the node takes them; estimates use the newest frames')
        if stale:
            per_view = ', '.join(f'{v}: {n}' for v, n in sorted(stale.items()))
            problems.append(
                f'{sum(stale.values())} stale frame(s) dropped ({per_view}): they arrived more '
                f'than max_delay_ms={self._max_delay_ns / 1e6:g} after their stamp')
        if problems:
            level = status.level[0]
            if level == DiagnosticStatus.OK[0]:  # 'publishing: ...' gives way to the problems
                status.level, status.message = DiagnosticStatus.WARN, ' | '.join(problems)
            else:
                status.message = ' | '.join([status.message, *problems])
        status.values.append(KeyValue(key='lost_frames', value=str(sum(self._gaps.lost.values()))))
        status.values.append(KeyValue(key='stale_frames', value=str(sum(self._stale.values()))))
        for view, n in sorted(self._gaps.lost.items()):
            status.values.append(KeyValue(key=f'lost_{view}', value=str(n)))

    def _on_episode(self, msg: Int32) -> None:
        if self._active():
            self._stream.reset()
            self.get_logger().info(f'episode {msg.data}: progress restarts at the next step')

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response):
        if not self._active():
            response.success = False
            response.message = f'not active (state {self._state_label}); activate first'
            return response
        self._stream.reset()
        response.success = True
        response.message = 'the next synchronised step starts a new episode'
        return response

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name=f'{self.get_name()}: GRM reward', hardware_id='')
        if self._active():
            summary = self._stream.status()
            status.level = bytes([summary.level])
            status.message = summary.message
            status.values = [KeyValue(key=k, value=v) for k, v in summary.values.items()]
            self._input_report(status)
        else:
            status.level = DiagnosticStatus.WARN
            status.message = f'not active (state {self._state_label}): publishing no rewards'
        status.values.append(KeyValue(key='lifecycle_state', value=self._state_label))
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)


def main(args=None) -> int:
    return run_node(GRMRewardNode, args)


if __name__ == '__main__':
    raise SystemExit(main())

