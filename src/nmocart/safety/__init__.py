"""Safety grading: CRS and ICANS (ASTCT), CTCAE v5.0 lab grades, ICAHT."""
