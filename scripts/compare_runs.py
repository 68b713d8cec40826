"""How far one `mgc tag` run keeps another's answers on the same files: top genre kept, the
largest genre score's mean difference, and each track's 10 nearest neighbours by embedding
shared (issue 24's fidelity of a distilled student against the default, on full-length tracks
as a user tags them: the patch budget and the per-track sharpening included).

Usage: python scripts/compare_runs.py REFERENCE_OUT OTHER_OUT
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow.parquet as pq


def tracks(out: str) -> dict[str, dict]:
    rows = pq.read_table(f"{out}/tags", columns=["path", "genre", "genre_score", "embedding"])
    return {r["path"]: r for r in rows.to_pylist() if r["genre"]}


def neighbours(embeddings: np.ndarray, k: int) -> np.ndarray:
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return np.argsort(-(unit @ unit.T), axis=1)[:, 1:k + 1]


def shared_neighbours(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Of each track's k = 10 nearest by cosine (fewer for few tracks), how many two sets of
    embeddings of the same tracks (rows aligned) share, on average; and k."""
    k = min(10, len(a) - 1)
    pairs = zip(neighbours(a, k), neighbours(b, k), strict=True)
    return float(np.mean([len(set(x) & set(y)) for x, y in pairs])), k


def compare(reference: dict[str, dict], other: dict[str, dict]) -> dict:
    paths = sorted(set(reference) & set(other))
    shared, k = shared_neighbours(np.array([reference[p]["embedding"] for p in paths]),
                                  np.array([other[p]["embedding"] for p in paths]))
    return {
        "tracks": len(paths),
        "top_genre_kept": float(np.mean([reference[p]["genre"] == other[p]["genre"]
                                         for p in paths])),
        "mean_top_score": [float(np.mean([r[p]["genre_score"] for p in paths]))
                           for r in (reference, other)],
        "neighbours_shared_of": [shared, k],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    print(json.dumps(compare(tracks(argv[0]), tracks(argv[1])), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
