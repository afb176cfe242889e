"""Names that come from data (a trajectory's task, a label, a bag's message type) inside output
paths.

A trajectory file or a bag can carry any string. Where such a string becomes part of a file name
it must stay one plain path component inside the output folder: ``../../x``, ``/etc/x`` or
``a/b`` must neither escape the folder nor create sub-folders. Where the name is only a label
(a plot's file name) it is sanitised with :func:`file_name_part`; where it must be exact, it is
refused with :func:`checked_name`.
"""

from __future__ import annotations

import re

__all__ = ["SAFE_NAME", "checked_name", "file_name_part"]

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
"""One path component: letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit (so
never ``.``, ``..``, a hidden file or an option-like ``-x``)."""

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.\-]+")
_MAX_LENGTH = 100


def file_name_part(text: object, fallback: str = "unnamed") -> str:
    """``text`` made into one safe file-name component for a label: every run of other
    characters (``/``, spaces, NUL, ...) becomes ``-``, and leading dots and dashes go, so
    ``"../../x"`` gives ``"x"`` and ``"/etc/passwd"`` gives ``"etc-passwd"``. At most 100
    characters; ``fallback`` if nothing is left."""
    name = _UNSAFE_RUN.sub("-", str(text)).lstrip(".-")[:_MAX_LENGTH].rstrip(".-")
    return name if SAFE_NAME.match(name) else fallback


def checked_name(text: object, what: str) -> str:
    """``text`` if it is one safe path component (:data:`SAFE_NAME`), else a ``ValueError`` that
    says what ``what`` must look like."""
    if not isinstance(text, str) or not SAFE_NAME.match(text) or len(text) > 255:
        raise ValueError(
            f"{what} {text!r} must be one file name of letters, digits, '_', '.' and '-' "
            "starting with a letter or digit (no '/', '..' or absolute paths)"
        )
    return text
