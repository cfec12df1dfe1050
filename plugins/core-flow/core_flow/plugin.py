"""Hook implementations of core-flow.

core imports this module (the ``core`` entry point) to list the plugin, so it must stay
torch-free: targets and configs are lazy ``"module:attr"`` strings, imported only when a
component is built.
"""

from __future__ import annotations

from typing import Any

from core import hookimpl

_C = "core_flow.configs"


@hookimpl
def register_models(register: Any) -> None:
    register(
        "flow",
        "core_flow.model:Flow",
        config=f"{_C}:FlowConfig",
        description="flow matching (linear path, velocity prediction) around any registered "
        "denoising network, class-conditional with classifier-free guidance",
        aliases=["flow-matching"],
    )


@hookimpl
def register_samplers(register: Any) -> None:
    register(
        "flow-euler",
        "core_flow.samplers:EulerSampler",
        config=f"{_C}:FlowSamplerConfig",
        description="flow models: Euler's method on dx/dt = v, one evaluation per step",
    )
    register(
        "flow-heun",
        "core_flow.samplers:HeunSampler",
        config=f"{_C}:FlowSamplerConfig",
        description="flow models: Heun's 2nd-order method on dx/dt = v, two evaluations per step",
    )
    register(
        "flow-midpoint",
        "core_flow.samplers:MidpointSampler",
        config=f"{_C}:FlowSamplerConfig",
        description="flow models: the explicit midpoint method, two evaluations per step",
    )
