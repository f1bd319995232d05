"""``nmocart safety``: grade safety records and build the study's safety report."""

from __future__ import annotations

import typer

app = typer.Typer(help="Grade CRS, ICANS, labs and ICAHT; build the safety report.", no_args_is_help=True)
