"""The ament_python package robo_reward_ros is well formed: package.xml, setup.py entry points,
launch files that parse with described arguments, parameter files under ros__parameters that
name only parameters the nodes declare. No rclpy needed."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET

import pytest
import yaml
from ros_harness import ROS_PACKAGE_DIR

NODES = ("grm_reward", "topo_mapper", "policy", "sim_bridge", "demo_recorder")


def test_package_xml():
    root = ET.parse(ROS_PACKAGE_DIR / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "robo_reward_ros"
    depends = {e.text for e in root.findall("exec_depend")}
    assert depends >= {
        "rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "nav_msgs",
        "visualization_msgs", "diagnostic_msgs", "lifecycle_msgs",
    }  # fmt: skip
    assert root.find("export/build_type").text == "ament_python"
    assert (ROS_PACKAGE_DIR / "resource" / "robo_reward_ros").is_file()


def test_setup_declares_every_node_and_installs_launch_and_config():
    source = (ROS_PACKAGE_DIR / "setup.py").read_text()
    for node in NODES:
        assert f"'{node} = robo_reward_ros.{node}:main'" in source
    for folder in ("launch/*.launch.py", "config/*.yaml", "resource/"):
        assert folder in source
    for node in NODES:
        module = ROS_PACKAGE_DIR / "robo_reward_ros" / f"{node}.py"
        if module.exists():  # nodes still to come are declared already
            assert "\ndef main(" in module.read_text()
            assert "if __name__ == '__main__':" in module.read_text()


@pytest.mark.parametrize("launch_file", ["robot.launch.py", "sim.launch.py"])
def test_launch_files_parse_and_describe_every_argument(launch_file):
    tree = ast.parse((ROS_PACKAGE_DIR / "launch" / launch_file).read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    arguments = next(
        n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "ARGUMENTS"
    )
    names = set()
    for item in arguments.elts:
        name, _, description = item.elts
        assert isinstance(description.value, str) and description.value, name.value
        names.add(name.value)
    assert {"namespace", "log_level", "autostart"} <= names


def _declared(node: str) -> set[str]:
    source = (ROS_PACKAGE_DIR / "robo_reward_ros" / f"{node}.py").read_text()
    return set(re.findall(r"declare\(\s*self,\s*'(\w+)'", source)) | {"use_sim_time"}


@pytest.mark.parametrize(
    "config", ["sim_bridge.yaml", "sim_bridge_arm.yaml", "demo_recorder.yaml", "policy_arm.yaml"]
)
def test_parameter_files(config):
    data = yaml.safe_load((ROS_PACKAGE_DIR / "config" / config).read_text())
    (node, section), *rest = data.items()
    assert not rest and set(section) == {"ros__parameters"}
    unknown = set(section["ros__parameters"]) - _declared(node)
    assert not unknown, f"{config} sets parameters {node} does not declare: {unknown}"
