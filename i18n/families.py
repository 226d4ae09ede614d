"""Texts whose keys the code builds at run time (``t(f"intake.problem.{code}")``).

``COUNTED``: the members of such families that are plural entries, with the parameter that carries
their count (the callers pass it to ``tn``)."""
from __future__ import annotations

COUNTED: dict[str, str] = {
    "intake.problem.too_long": "length",
    "intake.problem.repeated": "count",
    "error.user.name_long": "n",
    "error.user.password_short": "n",
    "error.user.password_long": "n",
}
