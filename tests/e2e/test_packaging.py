"""The wheel the image installs holds the action and nothing else: no fakes, no tests."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_PIP = ROOT / ".tools" / "build" / "bin" / "pip"


def test_the_wheel_has_the_product_and_no_fake(tmp_path: Path):
    assert BUILD_PIP.exists(), "the locked build backend is missing: run `make unit`"
    subprocess.run(
        [
            str(BUILD_PIP),
            "wheel",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("promote_action-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("promote_action-")}
    assert packages == {"promote_action"}
    assert "promote_action/runner.py" in names
    assert "promote_action/operations/heroku/slug_copy.py" in names
    assert not [name for name in names if "sandbox" in name or "/tests/" in name]
