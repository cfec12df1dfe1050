"""core.lazy: the one lazy-export helper of core's and the plugins' package ``__init__`` files."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import core_denoisers
import core_difflut
import core_diffusion
import pytest

import core
from core.lazy import lazy_exports


@pytest.fixture
def lazy_pkg(tmp_path, monkeypatch):
    """A package ``lazypkg`` exporting ``Heavy`` (its own name) and ``Alias`` (``module:attr``)."""
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            """
            from core.lazy import lazy_exports

            __all__ = ["Heavy", "Alias"]
            __getattr__, __dir__ = lazy_exports(
                __name__, {"Heavy": "lazypkg.heavy", "Alias": "lazypkg.heavy:Other"}
            )
            """
        )
    )
    (pkg / "heavy.py").write_text("class Heavy: pass\nclass Other: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lazypkg"
    for name in ("lazypkg", "lazypkg.heavy"):
        sys.modules.pop(name, None)


def test_names_import_on_first_use_and_are_kept(lazy_pkg) -> None:
    import importlib

    pkg = importlib.import_module(lazy_pkg)
    assert "lazypkg.heavy" not in sys.modules
    assert pkg.Heavy.__name__ == "Heavy" and pkg.Alias.__name__ == "Other"
    assert "lazypkg.heavy" in sys.modules
    assert vars(pkg)["Heavy"] is pkg.Heavy  # stored: the next lookup is an attribute read
    assert {"Heavy", "Alias"} <= set(dir(pkg))


def test_unknown_name_is_an_attribute_error_naming_the_module(lazy_pkg) -> None:
    import importlib

    pkg = importlib.import_module(lazy_pkg)
    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'nope'"):
        _ = pkg.nope
    assert not hasattr(pkg, "nope")


def test_fallback_answers_names_the_table_lacks() -> None:
    module = type(sys)("lazy_fallback_demo")
    sys.modules[module.__name__] = module
    try:
        getter, _ = lazy_exports(module.__name__, {}, fallback=lambda name: name.upper())
        assert getter("abc") == "ABC" and module.abc == "ABC"
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (core, "ConfigError"),
        (core, "Kind"),
        (core_diffusion, "UNetFeatures"),
        (core_difflut, "ModelConfig"),
        (core_denoisers, "MLPDenoiserConfig"),
    ],
)
def test_packages_export_through_it(module, name) -> None:
    assert getattr(module, name).__name__ == name
    assert name in dir(module)
    with pytest.raises(AttributeError, match=f"module '{module.__name__}' has no attribute"):
        _ = module.no_such_name


def test_importing_the_packages_stays_torch_free() -> None:
    code = (
        "import sys, core, core.metrics, core.testing, core_diffusion, core_difflut, "
        "core_denoisers; core.ConfigError; core.get_model; core_difflut.ModelConfig; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
