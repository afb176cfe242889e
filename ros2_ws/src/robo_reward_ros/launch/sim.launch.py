"""A MuJoCo robot behind real-robot topics, with the robot's nodes on them
(ros2 launch robo_reward_ros sim.launch.py [robot:=arm]).

``robot:=rover`` (default): sim_bridge drives the maze_small rover (odom, scan, goal_pose,
cmd_vel) and the mapper and policy run on it; ``robot:=arm``: sim_bridge plays button_press's
scripted expert on three camera topics and grm_reward scores it (give ``reference_demo``).
``record:=true`` also records a demo with demo_recorder. Every node but sim_bridge uses the
simulation's /clock. ``robo-reward ros up --config sim`` (or ``sim_arm``) is the same without ROS.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'robo_reward_ros'


def _config(name):
    return PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', name])


ARGUMENTS = [
    ('robot', 'rover', 'simulated robot: rover (maze navigation) or arm (tabletop task)'),
    ('namespace', '', 'namespace of every node'),
    ('log_level', 'info', 'log level of every node: debug, info, warn, error, fatal'),
    ('autostart', 'true', 'configure and activate the lifecycle nodes at start-up'),
    ('rover_params_file', _config('sim_bridge.yaml'), 'sim_bridge parameters (rover)'),
    ('arm_params_file', _config('sim_bridge_arm.yaml'), 'sim_bridge parameters (arm)'),
    ('grm_params_file', _config('grm_reward.yaml'), 'grm_reward parameters (arm)'),
    ('mapper_params_file', _config('topo_mapper.yaml'), 'topo_mapper parameters (rover)'),
    ('policy_params_file', _config('policy.yaml'), 'policy parameters (rover)'),
    ('recorder_params_file', _config('demo_recorder.yaml'), 'demo_recorder parameters'),
    ('reference_demo', '', 'arm: reference demonstration of grm_reward (.npz or dataset dir)'),
    ('policy_path', 'toponav', 'rover: the policy (.safetensors) or a shipped one by name '
     '(toponav: the TopoNav low level)'),
    ('record', 'false', 'also record a demonstration with demo_recorder'),
]


def generate_launch_description():
    arg = LaunchConfiguration
    is_rover = IfCondition(PythonExpression(["'", arg('robot'), "' == 'rover'"]))
    is_arm = IfCondition(PythonExpression(["'", arg('robot'), "' == 'arm'"]))
    sim_time = {'use_sim_time': True}
    ros_args = ['--log-level', arg('log_level')]

    def node(executable, condition, parameters, **kwargs):
        return Node(
            package=PACKAGE, executable=executable, name=executable,
            namespace=arg('namespace'), output='screen', arguments=ros_args,
            condition=condition, parameters=parameters, **kwargs)

    nodes = [
        node('sim_bridge', is_rover, [arg('rover_params_file')]),
        node('topo_mapper', is_rover, [arg('mapper_params_file'), sim_time, {
            'episode_topic': 'sim/episode',
        }]),
        node('policy', is_rover, [arg('policy_params_file'), sim_time, {
            'autostart': arg('autostart'),
            'policy_path': arg('policy_path'),
        }]),
        node('sim_bridge', is_arm, [arg('arm_params_file')]),
        node('grm_reward', is_arm, [arg('grm_params_file'), sim_time, {
            'autostart': arg('autostart'),
            'reference_demo': arg('reference_demo'),
            'episode_topic': 'sim/episode',
        }]),
        node('demo_recorder', IfCondition(arg('record')),
             [arg('recorder_params_file'), sim_time]),
    ]
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]
    return LaunchDescription([*declared, *nodes])
