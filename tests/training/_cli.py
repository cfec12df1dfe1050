"""Run the ``core`` CLI with the tiny test models registered: python _cli.py train ..."""

import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("_tiny", Path(__file__).with_name("_tiny.py"))
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)
tiny.register()

from core.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
