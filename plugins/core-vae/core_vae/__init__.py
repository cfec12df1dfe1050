"""VAE and beta-VAE for core (registered through the ``vae`` entry point; torch-free import)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
