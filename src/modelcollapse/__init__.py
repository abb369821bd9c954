"""modelcollapse: simulate, measure and guard against model collapse."""

__version__ = "0.1.0"
