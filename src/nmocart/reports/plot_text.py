r"""User text in plots is drawn as written, never parsed as matplotlib mathtext.

A subject id such as ``$\foo$`` would otherwise be parsed as mathtext and crash the plot (or
render as a formula). Mathtext itself stays on, since log-scale tick labels (10^3) use it; every
label built from user data (subject ids, analyte names, units) goes through :func:`literal`.
"""

from __future__ import annotations


def literal(text: str) -> str:
    r"""``text`` with every ``$`` escaped (``\$``), so matplotlib draws it as written."""
    return text.replace("$", r"\$")
