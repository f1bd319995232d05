"""The shared kernel: Kleene logic with provenance, calendar dates, exact units and input errors.

Every domain core (screening, safety, kinetics) and every adapter builds on these; they do no I/O.
"""
