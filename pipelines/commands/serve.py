"""``mgc serve``: the classify and library pages over a tag run.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pipelines.commands.common import parse_exactly


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgc serve",
        description="Pages over a tag run's output: classify an uploaded file (genre and a bar "
        "per genre score), browse the library (genre counts, filterable table, playback, "
        "nearest neighbours), and the JSON API behind them.",
        allow_abbrev=False,
    )
    parser.add_argument("--tags", required=True, metavar="OUT",
                        help="output folder of `mgc tag --output OUT`")
    parser.add_argument("--model", default=None, metavar="NAME|BUNDLE",
                        help="model for uploads (default: the one the tag run used)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; "
                        "0.0.0.0 opens it to the network)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--max-upload-mb", type=float, default=100,
                        help="largest upload accepted, in MB (default: 100)")
    return parser


def run(argv: Sequence[str]) -> int:
    args = parse_exactly(serve_parser(), argv)
    from pipelines.serve.server import make_server, serve  # TensorFlow: after --help and typos

    try:
        server = make_server(args.tags, args.model, args.host, args.port,
                             int(args.max_upload_mb * 1024 * 1024))
    except (ValueError, OSError) as error:
        raise SystemExit(f"mgc serve: {error}") from None
    print(f"Serving {len(server.library.rows)} tracks of {args.tags} on {server.url}/ "
          f"(library: {server.url}/library); Ctrl-C stops", flush=True)
    serve(server)
    return 0
