"""ament_python package of the robo_reward ROS 2 nodes (``colcon build`` on a ROS 2 machine, or
``pip install -e ros2_ws/src/robo_reward_ros`` next to ``pip install -e .[ros]``)."""

from glob import glob

from setuptools import find_packages, setup

package_name = 'robo_reward_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml', 'README.md']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='robo_reward maintainers',
    maintainer_email='robo-reward@example.com',
    description='ROS 2 nodes of robo_reward: reward, mapper, policy, sim bridge, demo recorder.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'grm_reward = robo_reward_ros.grm_reward:main',
            'topo_mapper = robo_reward_ros.topo_mapper:main',
            'policy = robo_reward_ros.policy:main',
            'sim_bridge = robo_reward_ros.sim_bridge:main',
            'demo_recorder = robo_reward_ros.demo_recorder:main',
            'camera_player = robo_reward_ros.camera_player:main',
            'scan_player = robo_reward_ros.scan_player:main',
        ],
    },
)
