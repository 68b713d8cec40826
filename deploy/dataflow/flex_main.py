"""The Flex Template's entry point: Dataflow's launcher calls it with every template parameter
as ``--name=value`` (metadata.json) plus the pipeline options it sets itself (runner, project,
region, temp_location, sdk_container_image...). It becomes one ``mgc tag`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

# template parameter -> mgc tag flag (Dataflow parameter names cannot carry mgc's hyphens)
FLAGS = {"max_patches": "--max-patches", "batch_size": "--batch-size", "top_k": "--top-k",
         "threshold": "--threshold", "model": "--model", "album_weight": "--album-weight"}
SWITCHES = {"incremental": "--incremental"}


def tag_argv(argv: Sequence[str]) -> list[str]:
    """Template arguments -> ``mgc tag`` arguments; Beam's options pass through unchanged."""
    parser = argparse.ArgumentParser(prog="flex_main", allow_abbrev=False)
    parser.add_argument("--inputs", required=True,
                        help="comma-separated audio files, folders or globs (gs://...)")
    parser.add_argument("--output", required=True)
    for name in FLAGS:
        parser.add_argument(f"--{name}")
    for name in SWITCHES:
        parser.add_argument(f"--{name}", default="false", choices=["true", "false"])
    args, beam_args = parser.parse_known_args(list(argv))
    inputs = [i.strip() for i in args.inputs.split(",") if i.strip()]
    if not inputs:
        parser.error("--inputs names no input")
    out = ["tag", *inputs, "--output", args.output, "--no-progress"]
    for name, flag in FLAGS.items():
        if getattr(args, name) not in (None, ""):
            out += [flag, getattr(args, name)]
    out += [flag for name, flag in SWITCHES.items() if getattr(args, name) == "true"]
    return [*out, *beam_args]


if __name__ == "__main__":
    from pipelines.cli import main

    sys.exit(main(tag_argv(sys.argv[1:])))
