"""nmocart: the CD19 CAR-T NMOSD phase I protocol (NCT05828212) made executable."""

__version__ = "0.1.0"
