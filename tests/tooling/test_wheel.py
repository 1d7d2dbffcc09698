"""The built wheel carries the SQL migrations, so `pip install` then `quote-service migrate` works
outside the checkout (docs/deployment.md#installing-with-pip), the pages' templates and static
files (the vendored chart library with its licence among them), so the pages work from a wheel,
and no extension module (the package is pure Python)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "quote_service" / "pages"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603
        [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)], check=True, capture_output=True
    )
    (built,) = out.glob("quote_service-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.long
@pytest.mark.slow  # builds the wheel
def test_the_wheel_holds_every_migration(wheel: zipfile.ZipFile) -> None:
    packaged = {
        Path(name).name: wheel.read(name)
        for name in wheel.namelist()
        if name.startswith("quote_service/migrations/") and name.endswith(".sql")
    }
    on_disk = {path.name: path.read_bytes() for path in (ROOT / "migrations").glob("*.sql")}
    assert on_disk
    assert packaged == on_disk


@pytest.mark.long
@pytest.mark.slow  # builds the wheel
def test_the_wheel_is_pure_python(wheel: zipfile.ZipFile) -> None:
    assert [name for name in wheel.namelist() if name.endswith(".so")] == []


@pytest.mark.long
@pytest.mark.slow  # builds the wheel
def test_the_wheel_holds_the_pages_assets(wheel: zipfile.ZipFile) -> None:
    on_disk = [
        path.relative_to(ROOT).as_posix()
        for folder in (PAGES / "static", PAGES / "templates")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    assert "quote_service/pages/static/vendor/chart.js-4.6.1/LICENSE.md" in on_disk
    packaged = set(wheel.namelist())
    for name in on_disk:
        assert name in packaged, f"{name} is not in the wheel"
        assert wheel.read(name) == (ROOT / name).read_bytes()
