"""The one declaration of core-difflut's node and encoder names (and their upstream aliases).

Imports nothing at load: ``plugin.py`` (registration), ``configs.py`` (validation),
``nodes.py`` and ``encoders.py`` (classes) all read these tables. Each entry is
``name: (class name, config class name, one-line description)``.

Upstream DiffLUT (aplesner/difflut) spells names with underscores (``dwn_stable``); every
upstream spelling that differs from ours is registered as an alias in core's registry: the
rule is "hyphens become underscores", and :data:`UPSTREAM_EXCEPTIONS` lists the names the
rule does not cover. :func:`canonical` asks core's registry, so there is no second alias table.
"""

from __future__ import annotations

__all__ = [
    "NODES",
    "ENCODERS",
    "UPSTREAM_EXCEPTIONS",
    "upstream_aliases",
    "canonical",
]

NODES: dict[str, tuple[str, str, str]] = {
    "probabilistic": ("ProbabilisticNode", "NodeConfig", "expectation of a sigmoid table"),
    "dwn": ("DWNNode", "DWNConfig", "hard lookup, extended finite difference backward"),
    "dwn-stable": ("DWNStableNode", "DWNStableConfig", "DWN with sigmoid tables, 1/(H+1) gradient"),
    "hybrid": ("HybridNode", "NodeConfig", "hard forward, probabilistic backward"),
    "linear-lut": ("LinearLUTNode", "NodeConfig", "sigmoid of a linear function"),
    "polylut": ("PolyLUTNode", "PolyLUTConfig", "sigmoid of a polynomial"),
    "neurallut": ("NeuralLUTNode", "NeuralLUTConfig", "small MLP per node"),
    "fourier": ("FourierNode", "FourierConfig", "truncated Fourier series"),
    "difflogic": ("DiffLogicNode", "DiffLogicConfig", "softmax over the 16 two-input gates"),
    "warp": ("WARPNode", "WARPConfig", "sigmoid of a Walsh expansion in the signed inputs"),
}

ENCODERS: dict[str, tuple[str, str, str]] = {
    "thermometer": ("ThermometerEncoder", "ThermometerConfig", "evenly spaced thresholds"),
    "gaussian-thermometer": (
        "GaussianThermometerEncoder",
        "ThermometerConfig",
        "thresholds at mean + std * inverse normal CDF",
    ),
    "distributive-thermometer": (
        "DistributiveThermometerEncoder",
        "ThermometerConfig",
        "thresholds at empirical quantiles",
    ),
    "gray": ("GrayEncoder", "CodeEncoderConfig", "Gray code of 2**bits levels"),
    "onehot": ("OneHotEncoder", "OneHotConfig", "one bit per bin"),
    "binary": ("BinaryEncoder", "CodeEncoderConfig", "binary code of 2**bits levels"),
    "sign-magnitude": ("SignMagnitudeEncoder", "SignMagnitudeConfig", "sign bit + magnitude"),
    "logarithmic": ("LogarithmicEncoder", "ThermometerConfig", "geometrically spaced thresholds"),
}

#: upstream spellings the underscore rule does not produce: (kind, upstream name) -> ours
UPSTREAM_EXCEPTIONS: dict[tuple[str, str], str] = {}


def upstream_aliases(kind: str, name: str) -> tuple[str, ...]:
    """Upstream spellings of our ``kind`` component ``name`` that differ from it."""
    found = {
        alias for (k, alias), ours in UPSTREAM_EXCEPTIONS.items() if k == kind and ours == name
    }
    rule = name.replace("-", "_")
    if rule != name:
        found.add(rule)
    return tuple(sorted(found))


def canonical(kind: str, name: str) -> str:
    """Our name for ``name``: the registered component it answers to in core's registry (an
    upstream alias becomes the canonical name); a name the registry does not know is kept."""
    from core.building import get_entry  # torch-free; the registry holds every alias
    from core.errors import CoreError

    try:
        return get_entry(kind, name).name
    except CoreError:
        return name
