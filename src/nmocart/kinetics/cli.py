"""``nmocart kinetics``: non-compartmental analysis of CAR-T cellular kinetics."""

from __future__ import annotations

import typer

app = typer.Typer(help="Non-compartmental analysis of CAR-T expansion and persistence.", no_args_is_help=True)
