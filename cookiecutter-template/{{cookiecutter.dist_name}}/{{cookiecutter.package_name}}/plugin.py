{%- set kinds = cookiecutter.kinds.split(',') | map('trim') | list -%}
"""Hook implementations of {{ cookiecutter.dist_name }}.

core imports this module (the ``core`` entry point) to list the plugin, so it must stay
torch-free: targets and configs are lazy ``"module:attr"`` strings, imported only when a
component is built.
"""

from __future__ import annotations

from typing import Any

from core import hookimpl


@hookimpl
def register_models(register: Any) -> None:
    register(
        "{{ cookiecutter.__name }}",
        "{{ cookiecutter.package_name }}.model:{{ cookiecutter.__class_name }}",
        config="{{ cookiecutter.package_name }}.configs:{{ cookiecutter.__class_name }}Config",
        description="tiny MLP variational autoencoder (trains on digits in seconds)",
    )
{%- if 'lr-schedule' in kinds %}


@hookimpl
def register_lr_schedules(register: Any) -> None:
    register(
        "{{ cookiecutter.__name }}-exp-decay",
        "{{ cookiecutter.package_name }}.lr_schedule:ExponentialDecay",
        config="{{ cookiecutter.package_name }}.configs:ExponentialDecayConfig",
        description="exponential LR decay to min_ratio of the peak, smoothly or in equal steps",
    )
{%- endif %}
{%- if 'loss' in kinds %}


@hookimpl
def register_losses(register: Any) -> None:
    register(
        "{{ cookiecutter.__name }}-elbo",
        "{{ cookiecutter.package_name }}.loss:ELBOLoss",
        config="{{ cookiecutter.package_name }}.configs:ELBOLossConfig",
        description="negative ELBO: reconstruction (bce or mse) + beta * KL, with its parts",
    )
{%- endif %}
{%- if 'head' in kinds %}


@hookimpl
def register_heads(register: Any) -> None:
    register(
        "{{ cookiecutter.__name }}-head",
        "{{ cookiecutter.package_name }}.head:ImageHead",
        config="{{ cookiecutter.package_name }}.configs:ImageHeadConfig",
        description="1x1 convolution from features to image channels, then an activation",
    )
{%- endif %}
