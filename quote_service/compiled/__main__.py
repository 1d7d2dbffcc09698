"""`python -m quote_service.compiled build|clean|status`: what `make compile` and `make clean-compiled` run."""

from __future__ import annotations

import argparse
import sys

from quote_service.compiled.build import BuildFailed, build, clean
from quote_service.compiled.loader import OUTPUT, VARIABLE, build_problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quote_service.compiled", description=__doc__)
    parser.add_argument("action", choices=("build", "clean", "status"))
    parser.add_argument("--force", action="store_true", help="build: compile all the C again, changed or not")
    args = parser.parse_args(argv)
    action = args.action
    if action == "build":
        try:
            seconds = build(force=args.force)
        except BuildFailed as exc:
            print(f"the compiled pricing engine was not built: {exc}", file=sys.stderr)
            print("(the pure-Python engine keeps working: nothing else needs the build)", file=sys.stderr)
            return 1
        print(f"compiled pricing engine built in {seconds:.0f} s: {OUTPUT}")
    elif action == "clean":
        removed = clean()
        print("removed " + ", ".join(map(str, removed)) if removed else "nothing to remove")
    problem = build_problem()
    print(f"a new process loads: {'the compiled engine' if problem is None else 'pure Python: ' + problem}")
    print(f"({VARIABLE}=pure forces the Python source; {VARIABLE}=compiled refuses to start without the build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
