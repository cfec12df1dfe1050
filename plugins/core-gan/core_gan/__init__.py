"""DCGAN for core (registered through the ``gan`` entry point; importing this is torch-free)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
