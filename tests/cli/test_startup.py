"""The commands other than `fota serve` start without the runtime's API app and database layer, whose imports take
most of a server's start-up: a fresh interpreter loads the CLI and is asked what it imported."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("fota.runtime.api", "fota.runtime.process", "fastapi", "sqlalchemy")


def test_the_cli_loads_without_the_api_app_until_serve_asks_for_it() -> None:
    probe = (
        "import json, sys\n"
        "from fota.adapters.cli.main import app\n"
        "from fota import runtime\n"
        f"before = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "runtime.api_app\n"
        f"after = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps([before, after]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    before, after = json.loads(result.stdout.splitlines()[-1])
    assert before == []
    assert after == list(HEAVY)


def test_each_lazy_export_is_the_function_even_after_its_module_was_imported() -> None:
    """A submodule named like an export would replace it on the package once imported (as `--workers` imports the
    serving module): `runtime.serve` must stay the function."""
    probe = (
        "import importlib, inspect\n"
        "from fota import runtime\n"
        "for module in sorted(set(runtime._LAZY.values())):\n"
        "    importlib.import_module(module)\n"
        "print(all(not inspect.ismodule(getattr(runtime, name)) for name in runtime._LAZY))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split()[-1] == "True"
