r"""User text in plots is drawn as written: never parsed as matplotlib mathtext or TeX.

A subject id such as ``$\foo$`` would otherwise be parsed as mathtext and crash the plot
(or silently render as a formula). Every plotting function runs under :func:`plain_text`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import matplotlib

P = ParamSpec("P")
R = TypeVar("R")


def plain_text(plot: Callable[P, R]) -> Callable[P, R]:
    """Run ``plot`` with mathtext and TeX switched off for every text it draws."""

    @functools.wraps(plot)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # mathtext and TeX off: ``$`` and ``\`` in labels are ordinary characters
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return plot(*args, **kwargs)

    return wrapper
