"""The shaping formula and potential validation."""

from __future__ import annotations

import math

import pytest

from robo_reward.shaping import PotentialError, check_potential, shaping_reward


def test_terminated_zeroes_the_next_potential_truncation_does_not() -> None:
    assert shaping_reward(0.3, 0.8, 0.9, terminated=False) == pytest.approx(0.9 * 0.8 - 0.3)
    assert shaping_reward(0.3, 0.8, 0.9, terminated=True) == pytest.approx(-0.3)
    assert shaping_reward(0.3, 0.8, 0.9, False, mode="naive") == pytest.approx(0.5)
    assert shaping_reward(0.3, 0.8, 0.9, True, mode="naive") == pytest.approx(-0.3)


def test_formula_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        shaping_reward(0, 0, 0.9, False, mode="diff")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gamma"):
        shaping_reward(0, 0, -0.1, False)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1.0001, -1e-9, None, "x"])
def test_check_potential_refuses_instead_of_clipping(value) -> None:
    with pytest.raises(PotentialError, match="'grm'"):
        check_potential(value, "grm")


def test_check_potential_accepts_the_declared_range() -> None:
    assert check_potential(0.0, "grm") == 0.0
    assert check_potential(1, "grm") == 1.0
    assert check_potential(-4.0, "topo", bounds=(-10.0, 0.0)) == -4.0
