"""Core's own components, registered through the same hooks as any plugin (torch-free)."""

from __future__ import annotations

from typing import Any

from core.hookspecs import hookimpl


@hookimpl
def register_datasets(register: Any) -> None:
    register(
        "toy2d",
        "core.data.toy2d:Toy2D",
        config="core.data.configs:Toy2DConfig",
        description="2-D point clouds: moons, swiss roll, gaussian mixture",
    )
