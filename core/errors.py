"""The exception hierarchy of core.

Every error core raises on purpose is a ``CoreError``; the command line prints
its message on one line and exits with code 2.

    CoreError
    ├── PluginError              a plugin failed to import or register (strict mode)
    ├── RegistryError
    │   ├── UnknownComponentError    no component of that kind and name (also a KeyError)
    │   └── AmbiguousNameError       a short name given by two plugins
    ├── ConfigError              a config file, section, key or value is wrong (also a ValueError)
    ├── WeightsError             a weights file is missing, corrupt or does not fit the model
    ├── PretrainedError          a pretrained name or version that cannot be resolved
    ├── DataError                a dataset path, file or format is wrong
    ├── AtomicWriteError         a file could not be written; the previous one is intact (also OSError)
    ├── ToolError                an external program (yosys, a C compiler) is missing, fails or times out
    ├── TrainingError            a run cannot start or continue (model lacks the protocol, bad resume)
    └── ExportError              a model has no equivalent in the export format asked for
"""

from __future__ import annotations

__all__ = [
    "CoreError",
    "PluginError",
    "RegistryError",
    "UnknownComponentError",
    "AmbiguousNameError",
    "ConfigError",
    "WeightsError",
    "PretrainedError",
    "DataError",
    "AtomicWriteError",
    "ToolError",
    "TrainingError",
    "ExportError",
]


class CoreError(Exception):
    """Base of every error core raises on purpose."""


class PluginError(CoreError):
    """A plugin failed to import or to register its components."""


class RegistryError(CoreError):
    """A component lookup or registration failed."""


class UnknownComponentError(RegistryError, KeyError):
    """No component of that kind answers to the name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousNameError(RegistryError):
    """A short name is provided by more than one plugin."""


class ConfigError(CoreError, ValueError):
    """A configuration file, section, key or value is wrong."""


class WeightsError(CoreError):
    """A weights file is missing, corrupt, unsafe or does not fit the model."""


class PretrainedError(CoreError):
    """A pretrained name, version or store path cannot be resolved."""


class DataError(CoreError):
    """A dataset path, file or format is wrong."""


class AtomicWriteError(CoreError, OSError):
    """A file could not be written (disk full, no permission); the previous file is intact."""


class ToolError(CoreError):
    """An external program is missing, fails or times out (named, with its last stderr lines)."""


class TrainingError(CoreError):
    """A run cannot start or continue."""


class ExportError(CoreError):
    """A model cannot be exported to a format (names what has no equivalent there)."""
