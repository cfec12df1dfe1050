"""flow matching with ODE samplers (Euler, Heun) and few-step sampling (a core plugin; importing this package is torch-free)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
