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
{%- for kind in cookiecutter._examples if kind in kinds %}
{%- import 'examples/' ~ kind ~ '.jinja' as example with context %}
{{- example.hook() }}
{%- endfor %}
