"""Allow ``python -m nmocart``."""

from nmocart.cli import main

main()
