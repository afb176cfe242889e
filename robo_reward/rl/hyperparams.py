"""What SAC's and PPO's hyper-parameter dataclasses share: round-tripping through JSON
checkpoints and the checks every field gets, with messages that name ``<Config>.<field>``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

C = TypeVar("C", bound="ControllerConfig")


def is_real(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class ControllerConfig:
    """Mixin of the frozen config dataclasses with ``hidden`` and ``obs_keys`` fields."""

    def _normalize_sequences(self) -> None:
        """``hidden`` and ``obs_keys`` as tuples (YAML and JSON give lists); a bare string is
        not a sequence of keys."""
        object.__setattr__(self, "hidden", tuple(self.hidden))  # type: ignore[attr-defined]
        keys = self.obs_keys  # type: ignore[attr-defined]
        if keys is not None:
            if isinstance(keys, str):
                raise ValueError(f"obs_keys must be a sequence of keys, got {keys!r}")
            object.__setattr__(self, "obs_keys", tuple(keys))
        hidden = self.hidden  # type: ignore[attr-defined]
        if not hidden or any(
            isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in hidden
        ):
            raise ValueError(f"{self._name}.hidden must be positive ints, got {hidden!r}")

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check_ints(self, names: Iterable[str], minimum: int) -> None:
        """Each field is an int >= ``minimum`` (1: positive, 0: non-negative)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
                raise ValueError(f"{self._name}.{name} must be {what}, got {value!r}")

    def _check_reals(self, names: Iterable[str], positive: bool) -> None:
        """Each field is a finite number, > 0 (``positive``) or >= 0."""
        for name in names:
            value = getattr(self, name)
            if not is_real(value) or value < 0 or (positive and value == 0):
                bound = "> 0" if positive else ">= 0"
                raise ValueError(
                    f"{self._name}.{name} must be a finite number {bound}, got {value!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (tuples as lists)."""
        out = dataclasses.asdict(self)  # type: ignore[call-overload]
        out["hidden"] = list(self.hidden)  # type: ignore[attr-defined]
        keys = self.obs_keys  # type: ignore[attr-defined]
        out["obs_keys"] = None if keys is None else list(keys)
        return out

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """Inverse of :meth:`to_dict`; unknown keys are an error, not ignored."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {unknown}; known keys: {sorted(known)}")
        return cls(**data)
