"""Fixtures of the ROS 2 tests: real rclpy over DDS between processes.

Each test module starts with ``pytest.importorskip("rclpy", reason=NO_ROS)``, so where the ROS
wheels are absent the tests are skipped with that reason (CI installs them: ``make test``
installs the ``[ros]`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ros_harness import ProbeNode, next_domain_id


@pytest.fixture
def domain_id() -> int:
    return next_domain_id()


@pytest.fixture
def probe(domain_id: int) -> Iterator[ProbeNode]:
    """An rclpy node in the test process on the test's domain."""
    node = ProbeNode(domain_id)
    yield node
    node.close()
