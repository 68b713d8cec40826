"""Measure album and artist evidence and ``--min-score auto`` on an album-organised library.

Why: the defaults of ``--album-weight``, ``--artist-weight`` and the corpus threshold for
tracks that artist evidence decided (``calibration.FALLBACK['artist']``) must come from
measurement on albums, holding out whole albums (issue 21). The library is
``scripts/make_album_library.py``'s (the check corpus as albums and artists, the owner's
genres on some albums, ``truth.csv`` with every file's label); OUT is a ``mgc tag`` run over
it (its ``track_genre_scores`` are each track's own, before any evidence). Every weight is
replayed here with the product's own functions (``decision.with_library``, the graph's
grouping by album and artist, ``calibration.calibrate``), so no second tag run is needed.

Reports, on the files without the owner's genre (what ``--write-tags fill`` writes):
accuracy of the top genre at each album weight W (no artist evidence) and at each artist
weight V (at the chosen W), each weight chosen leave-one-artist-out (an artist's albums
held out together, never split); per kind of evidence (``calibration.KINDS``) the least
score right 9 times in 10, the corpus threshold a library with too few labelled tracks
falls back to, with its precision when chosen on the other artists; then what the run
itself wrote (``--write-tags fill``, its own weights and ``--min-score``) and how often it
is right, on compilations and on the other albums.

Honest limits: the labels come per source, so an artist's albums share their genre more
than many real artists' do (SuperTuxKart's albums mix three); the default model's priors
were fitted on part of this corpus, which flatters audio-only accuracy.

    .venv/bin/python scripts/measure_library_evidence.py OUT [LIBRARY] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mgc_model import calibration, decision  # noqa: E402
from mgc_model.genre_aliases import to_fma  # noqa: E402
from mgc_model.metrics import threshold_for_precision  # noqa: E402
from pipelines.files.tags import artist_key, evidence_album, is_compilation  # noqa: E402
from schemas.parquet import genre_labels  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
TARGET, MIN_ABOVE = calibration.TARGET_PRECISION, calibration.MIN_ABOVE
TOLERANCE = 0.005  # a larger weight must beat a smaller one by more than this


def load(out: Path) -> tuple[list[dict], tuple[str, ...]]:
    files = sorted((out / "tags").glob("*.parquet"))
    genres = tuple(genre_labels(pq.read_schema(files[0])))
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    return rows, genres


def decide(rows: list[dict], genres, album_weight: float, artist_weight: float) -> list[dict]:
    """The graph's decision (``pipelines.graph.evidence``) replayed: rows with their final
    ``genre_scores`` and ``genre_from``."""
    albums: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        albums[evidence_album(row)].append(row)
    artists: dict[str, list[list[dict]]] = defaultdict(list)
    for key, members in albums.items():
        members.sort(key=lambda r: r["path"])
        artists[artist_key(members) or key].append(members)
    decided = []
    for members_list in artists.values():
        members_list.sort(key=lambda m: m[0]["path"])
        out = decision.with_library(
            [decision.Album(np.array([r["track_genre_scores"] for r in m], np.float32),
                            [decision.labels_of(r["file_genres"], genres) for r in m],
                            is_compilation(m)) for m in members_list],
            album_weight, artist_weight)
        for members, (scores, source) in zip(members_list, out, strict=True):
            decided += [{**r, "genre_scores": s.tolist(), "genre_from": source}
                        for r, s in zip(members, scores, strict=True)]
    return decided


def is_right(row: dict, genres, truth) -> bool:
    """The top genre is the file's label: the same FMA genre, for a bundle whose labels are
    the owner's words through the alias table."""
    name = genres[int(np.argmax(row["genre_scores"]))]
    return (to_fma(name) or name) == truth[row["path"]]["genre"]


def choose(accuracy: dict[float, float]) -> float:
    best = max(accuracy.values())
    return min(w for w, a in accuracy.items() if a >= best - TOLERANCE)


def right_by_weight(rows, genres, truth, weights, fixed) -> dict[float, dict[str, np.ndarray]]:
    """weight -> {path: right} over the untagged files, ``fixed(w)`` giving (W, V)."""
    out = {}
    for w in weights:
        decided = decide(rows, genres, *fixed(w))
        out[w] = {r["path"]: is_right(r, genres, truth) for r in decided
                  if not int(truth[r["path"]]["tagged"])}
    return out


def held_out_choice(right: dict[float, dict[str, bool]], truth) -> tuple[float, dict]:
    """Accuracy with the weight chosen on the other artists, for each artist in turn."""
    artists = {t["artist"] for t in truth.values()}
    hits, chosen = [], defaultdict(int)
    for artist in sorted(artists):
        others = {w: np.mean([ok for p, ok in r.items() if truth[p]["artist"] != artist])
                  for w, r in right.items()}
        w = choose(others)
        chosen[w] += 1
        hits += [ok for p, ok in right[w].items() if truth[p]["artist"] == artist]
    return float(np.mean(hits)), dict(chosen)


def in_library(path: str, library: Path) -> str:
    """A tagged file's path as ``truth.csv`` names it: a write-back run tags a copy of the
    library, whose files keep their artist/album/file tail."""
    return str(library.joinpath(*Path(path).parts[-3:]))


def as_run(run: Path, rows: list[dict], genres, truth, untagged: list[str],
           library: Path) -> dict:
    """What the run itself wrote with ``--write-tags fill`` (its own weights and
    ``--min-score``), on compilations and on the other albums."""
    record = json.loads((run / "run.json").read_text())
    writes = pq.read_table(run / "writes", columns=["path", "action"]).to_pylist()
    written = {in_library(w["path"], library) for w in writes if w["action"] == "written"}
    by_path = {r["path"]: r for r in rows}
    figures = {"min_score": record["min_score"], "calibration": record.get("calibration"),
               "fitted_on_albums": record.get("fitted_on_albums", 0)}
    print(f"as run ({record['model']}, --min-score {record['min_score']}):")
    for line in calibration.describe(record.get("calibration", {})):
        print(line)
    for name, on_compilation in (("compilations", True), ("other albums", False), ("all", None)):
        files = [p for p in untagged
                 if on_compilation is None or bool(int(truth[p]["compilation"])) == on_compilation]
        mine = [is_right(by_path[p], genres, truth) for p in files if p in written]
        figures[name] = {"untagged": len(files), "written": len(mine), "right": int(sum(mine))}
        print(f"  {name}: writes {len(mine)} of {len(files)} untagged files "
              f"({len(mine) / max(len(files), 1):.0%}), {sum(mine)} right "
              f"({sum(mine) / max(len(mine), 1):.1%})")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the OUT folder of `mgc tag LIBRARY`")
    parser.add_argument("library", nargs="?", default="/work/album-library", type=Path)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)

    with (args.library / "truth.csv").open(newline="", encoding="utf-8") as f:
        truth = {row["path"]: row for row in csv.DictReader(f)}
    rows, genres = load(args.run)
    rows = [{**r, "path": in_library(r["path"], args.library)} for r in rows]
    rows = [r for r in rows if r["path"] in truth]
    untagged = [p for p, t in truth.items() if not int(t["tagged"])]
    figures: dict = {"tracks": len(rows), "untagged": len(untagged),
                     "compilation_tracks": sum(int(t["compilation"]) for t in truth.values())}
    print(f"{len(rows)} tracks, {len(untagged)} without the owner's genre "
          f"({figures['compilation_tracks']} on compilations)")

    by_w = right_by_weight(rows, genres, truth, WEIGHTS, lambda w: (w, 0.0))
    acc_w = {w: float(np.mean(list(r.values()))) for w, r in by_w.items()}
    w_held, w_picks = held_out_choice(by_w, truth)
    album_weight = choose(acc_w)
    figures["album_weight"] = {"accuracy": acc_w, "held_out_accuracy": w_held,
                               "chosen_per_held_out_artist": w_picks, "chosen": album_weight}
    print("album weight W (no artist evidence): " + ", ".join(
        f"{w}: {a:.1%}" for w, a in acc_w.items())
        + f"; chosen per held-out artist {w_picks}, accuracy {w_held:.1%}; W = {album_weight}")

    by_v = right_by_weight(rows, genres, truth, WEIGHTS, lambda v: (album_weight, v))
    acc_v = {v: float(np.mean(list(r.values()))) for v, r in by_v.items()}
    v_held, v_picks = held_out_choice(by_v, truth)
    artist_weight = choose(acc_v)
    figures["artist_weight"] = {"accuracy": acc_v, "held_out_accuracy": v_held,
                                "chosen_per_held_out_artist": v_picks, "chosen": artist_weight}
    print(f"artist weight V (W = {album_weight}): " + ", ".join(
        f"{v}: {a:.1%}" for v, a in acc_v.items())
        + f"; chosen per held-out artist {v_picks}, accuracy {v_held:.1%}; V = {artist_weight}")

    final = decide(rows, genres, album_weight, artist_weight)
    scored = [(float(max(r["genre_scores"])), is_right(r, genres, truth),
               truth[r["path"]]["artist"], calibration.kind_of(r["genre_from"]))
              for r in final if not int(truth[r["path"]]["tagged"])]
    figures["kind_thresholds"] = {}
    for kind in calibration.KINDS:
        mine = [s for s in scored if s[3] == kind]
        scores = np.array([s[0] for s in mine])
        right = np.array([s[1] for s in mine], dtype=bool)
        least = threshold_for_precision(scores, right, TARGET, MIN_ABOVE) if mine else None
        held = []
        for artist in sorted({s[2] for s in mine}):
            own = np.array([s[2] == artist for s in mine])
            t = threshold_for_precision(scores[~own], right[~own], TARGET, MIN_ABOVE)
            held += list(right[own & (scores >= t)]) if t is not None else []
        figures["kind_thresholds"][kind] = {
            "tracks": len(mine), "right": int(right.sum()), "least_score": least,
            "held_out_written": len(held),
            "held_out_precision": float(np.mean(held)) if held else None}
        print(f"untagged tracks decided {calibration.KIND_NAMES[kind]}: {len(mine)}, right "
              f"{int(right.sum())}; least score right 9 in 10: "
              f"{'none' if least is None else f'{least:.3f}'}; with it chosen on the other "
              f"artists: {len(held)} written, "
              f"{f'{np.mean(held):.1%}' if held else 'none'} right")

    figures["as_run"] = as_run(args.run, rows, genres, truth, untagged, args.library)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
