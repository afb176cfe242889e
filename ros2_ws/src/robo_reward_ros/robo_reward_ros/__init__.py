"""ROS 2 nodes of robo_reward: thin adapters between ROS topics and the robo_reward package.

Importing this package imports neither rclpy nor robo_reward; each node module does.
"""
