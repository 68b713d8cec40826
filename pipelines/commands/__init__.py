"""The commands of ``mgc``, one module each: its parser, its run, its summary.

To add a command: write ``pipelines/commands/<name>.py`` with a ``run(argv) -> int`` and name it
here. Only the command being run is imported, so ``mgc --help`` and a typo stay fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

# command -> its module in this package
COMMANDS = {"tag": "tag", "extract": "extract", "train": "train", "evaluate": "evaluate",
            "baselines": "baselines", "serve": "serve", "similar": "similar", "undo": "undo",
            "playlists": "playlists"}


def command(name: str) -> Callable[[Sequence[str]], int]:
    """The ``run`` function of the command ``name`` (a key of ``COMMANDS``)."""
    return importlib.import_module(f"{__name__}.{COMMANDS[name]}").run
