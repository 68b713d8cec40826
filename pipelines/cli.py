"""``mgc``: the entry point. It only dispatches to a command of ``pipelines.commands``.

Flags mgc does not know are handed to Beam as pipeline options (``--runner``,
``--direct_num_workers``, Dataflow's ``--project`` ...); a flag neither knows is an error that
names the closest valid one (``pipelines.commands.common``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from pipelines.commands import COMMANDS, command
from pipelines.terminal.console import quiet_native_stderr

# Harmless warnings Beam logs on the root logger while importing: not the user's concern.
QUIET = ("apitools not found", "Resource module is not available")

USAGE = """usage: mgc [--version] COMMAND ... [--verbose]
commands: {known}
`mgc COMMAND --help` for details; --verbose (anywhere on the line) also shows what
TensorFlow and ONNX Runtime print as they start"""


def _quiet_beam_imports(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(QUIET)


def version_line() -> str:
    """mgc's version and the default model's ``name@version``."""
    from importlib.metadata import PackageNotFoundError, version

    from mgc_model import registry

    try:
        mine = version("mgc")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, not installed
        mine = "(not installed)"
    return f"mgc {mine}, default model {registry.describe(registry.DEFAULT_MODEL).ref}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # before anything loads TensorFlow: its start-up lines are printed from C++
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    with quiet_native_stderr(verbose):
        return _dispatch(argv)


def _dispatch(argv: list[str]) -> int:
    known = ", ".join(COMMANDS)
    if argv[:1] == ["--version"]:
        print(version_line())
        return 0
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        if argv and argv[0] not in {"-h", "--help"}:
            print(f"mgc: unknown command {argv[0]!r}; commands: {known}", file=sys.stderr)
            return 2
        print(USAGE.format(known=known))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().addFilter(_quiet_beam_imports)
    return command(argv[0])(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
