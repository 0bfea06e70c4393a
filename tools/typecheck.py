"""mypy over orderflow, with ``consumers/`` checked as ``orderflow.consumers``: ``make lint`` runs it.

``consumers/`` is installed as ``orderflow.consumers`` (``package_dir`` in setup.cfg), a mapping that
mypy's module finder cannot express: run plainly, mypy would check those files as ``consumers.*`` and
find nothing behind ``import orderflow.consumers``. This takes mypy's own command line and
configuration (``[tool.mypy]`` in pyproject.toml), renames the sources found under ``consumers/``,
and runs the build as ``mypy`` does, so every import of ``orderflow.consumers.*`` resolves to the one
checked file. Usage: ``python tools/typecheck.py src/orderflow consumers`` (any other mypy arguments
pass through); the exit status is mypy's.
"""

import sys
import time

from mypy import util
from mypy.fscache import FileSystemCache
from mypy.main import process_options, run_build

INSTALLED_AS = {"consumers": "orderflow.consumers"}


def installed_name(module: str) -> str:
    """The name a module has once installed: ``consumers.inbound`` is ``orderflow.consumers.inbound``."""
    package, dot, rest = module.partition(".")
    return INSTALLED_AS[package] + dot + rest if package in INSTALLED_AS else module


def main(args: list[str]) -> int:
    """Check the sources ``args`` name under their installed names; 0 if clean, 1 on errors, 2 if mypy could not run."""
    started = time.time()
    fscache = FileSystemCache()
    sources, options = process_options(args, fscache=fscache)
    for source in sources:
        source.module = installed_name(source.module)
    _, messages, blockers = run_build(sources, options, fscache, started, sys.stdout, sys.stderr)
    formatter = util.FancyFormatter(sys.stdout, sys.stderr, options.hide_error_codes)
    n_errors, n_notes, n_files = util.count_stats(messages)
    if n_errors or blockers:
        print(formatter.format_error(n_errors, n_files, len(sources), blockers=blockers,
                                     use_color=options.color_output))
        return 2 if blockers else 1
    print(formatter.format_success(len(sources), options.color_output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
