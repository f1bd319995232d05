"""Cellular kinetics: non-compartmental analysis of CAR-T expansion and persistence."""
