"""The built wheel carries the SQL migrations, so `pip install` then `quote-service migrate` works
outside the checkout (docs/deployment.md#installing-with-pip), and no compiled module."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # builds the wheel
def test_the_wheel_holds_every_migration(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    subprocess.run(  # noqa: S603
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)], check=True, capture_output=True
    )
    (wheel,) = tmp_path.glob("quote_service-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        packaged = {
            Path(name).name: archive.read(name)
            for name in archive.namelist()
            if name.startswith("quote_service/migrations/") and name.endswith(".sql")
        }
    on_disk = {path.name: path.read_bytes() for path in (ROOT / "migrations").glob("*.sql")}
    assert on_disk
    assert packaged == on_disk
    # The wheel is pure Python even when the checkout holds a compiled engine (CI builds one first):
    # a build is for one interpreter and machine (docs/development.md#the-compiled-pricing-engine).
    assert [name for name in names if name.endswith(".so") or "/_compiled" in name] == []
