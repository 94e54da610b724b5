"""audioprobe: probe audio models against human perception, layer by layer."""

__version__ = "0.1.0"
