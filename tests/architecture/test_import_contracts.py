"""The layering contracts in pyproject.toml catch what they forbid: the source as it is keeps them all, and each
forbidden import added to a copy of it breaks the contract that forbids it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(source: Path, cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts on the `fota` package under `source`."""
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml"), *selected],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_source_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(ROOT / "src", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("adapters/http/routes/devices.py", "from fota.adapters.lwm2m import registration", "edges-independent"),
        ("adapters/lwm2m/server.py", "from fota.adapters.http import parts", "edges-independent"),
        ("adapters/cli/campaigns.py", "from fota.adapters.console import views", "edges-independent"),
        ("adapters/console/views.py", "from fota.adapters.storage import lag", "edges-no-storage"),
        ("adapters/http/app.py", "from fota import runtime", "runtime-entry"),
        ("services/campaigns.py", "from fota.adapters import metrics", "layers"),
        ("domain/campaign.py", "import sqlalchemy", "domain-stdlib"),
        ("domain/campaign.py", "from fota.services import ports", "domain-stdlib"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, forbidden: str, contract: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "fota", copy / "fota", ignore=shutil.ignore_patterns("__pycache__"))
    assert lint_imports(copy, tmp_path, contract).returncode == 0, "the copy keeps the contract before the edit"
    target = copy / "fota" / module
    target.write_text(f"{target.read_text()}\n{forbidden}  # noqa\n")
    result = lint_imports(copy, tmp_path, contract)
    assert result.returncode != 0, result.stdout
    assert "1 broken" in result.stdout
    assert f"fota.{module.removesuffix('.py').replace('/', '.')}" in result.stdout, "the report names the importer"
