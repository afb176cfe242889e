"""The reward, mapper and policy nodes on a real robot: ros2 launch robo_reward_ros robot.launch.py

The same set as ``robo-reward ros up --config robot`` on a machine without ROS. Remap the
camera, odometry and scan topics to your robot's with the ``*_topic`` arguments, or give your
own parameter files. ``grm_reward`` and ``policy`` are lifecycle nodes; ``autostart`` configures
and activates them at start-up (set it false to drive the transitions from a lifecycle manager;
an active ``policy`` commands the base on ``cmd_vel``).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'robo_reward_ros'


def _config(name):
    return PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', name])


ARGUMENTS = [
    ('namespace', '', 'namespace of every node (their relative topics move with it)'),
    ('use_sim_time', 'false', 'use /clock (true when the robot is sim_bridge)'),
    ('log_level', 'info', 'log level of every node: debug, info, warn, error, fatal'),
    ('autostart', 'true', 'configure and activate the lifecycle nodes at start-up'),
    ('grm_params_file', _config('grm_reward.yaml'), 'parameters of grm_reward'),
    ('mapper_params_file', _config('topo_mapper.yaml'), 'parameters of topo_mapper'),
    ('policy_params_file', _config('policy.yaml'), 'parameters of policy'),
    ('reference_demo', '', 'grm_reward: the reference demonstration (.npz or dataset dir)'),
    ('checkpoint', '', 'grm_reward: GRM checkpoint from robo-reward adapt; empty: general'),
    ('policy_path', 'toponav', 'policy: a saved policy (.safetensors) or a shipped one by name '
     '(toponav: the TopoNav low level, steering to topo_mapper waypoints)'),
    ('front_topic', '/front_camera/image_raw/compressed', 'front camera topic'),
    ('side_topic', '/side_camera/image_raw/compressed', 'side camera topic'),
    ('wrist_topic', '/wrist_camera/image_raw/compressed', 'wrist camera topic'),
    ('odom_topic', '/odom', 'odometry (nav_msgs/Odometry)'),
    ('scan_topic', '/scan', 'lidar (sensor_msgs/LaserScan)'),
    ('cmd_vel_topic', '/cmd_vel', 'velocity command of the base (geometry_msgs/Twist)'),
    ('reward', 'true', 'start grm_reward'),
    ('mapper', 'true', 'start topo_mapper'),
    ('policy', 'true', 'start policy'),
]


def generate_launch_description():
    arg = LaunchConfiguration
    common = {'use_sim_time': arg('use_sim_time')}
    ros_args = ['--log-level', arg('log_level')]
    grm_reward = Node(
        package=PACKAGE, executable='grm_reward', name='grm_reward',
        namespace=arg('namespace'), output='screen', arguments=ros_args,
        condition=IfCondition(arg('reward')),
        parameters=[arg('grm_params_file'), common, {
            'autostart': arg('autostart'),
            'reference_demo': arg('reference_demo'),
            'checkpoint': arg('checkpoint'),
            'views': ['front', 'side', 'wrist'],
            'topics': ['cam/front/image_raw/compressed', 'cam/side/image_raw/compressed',
                       'cam/wrist/image_raw/compressed'],
        }],
        remappings=[
            ('cam/front/image_raw/compressed', arg('front_topic')),
            ('cam/side/image_raw/compressed', arg('side_topic')),
            ('cam/wrist/image_raw/compressed', arg('wrist_topic')),
        ],
    )
    topo_mapper = Node(
        package=PACKAGE, executable='topo_mapper', name='topo_mapper',
        namespace=arg('namespace'), output='screen', arguments=ros_args,
        condition=IfCondition(arg('mapper')),
        parameters=[arg('mapper_params_file'), common],
        remappings=[('odom', arg('odom_topic')), ('scan', arg('scan_topic'))],
    )
    policy = Node(
        package=PACKAGE, executable='policy', name='policy',
        namespace=arg('namespace'), output='screen', arguments=ros_args,
        condition=IfCondition(arg('policy')),
        parameters=[arg('policy_params_file'), common, {
            'autostart': arg('autostart'),
            'policy_path': arg('policy_path'),
        }],
        remappings=[('odom', arg('odom_topic')), ('scan', arg('scan_topic')),
                    ('cmd_vel', arg('cmd_vel_topic'))],
    )
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]
    return LaunchDescription([*declared, grm_reward, topo_mapper, policy])
