"""Cellular kinetics domain core: sample tables, NCA, summaries and the Stein generator."""
