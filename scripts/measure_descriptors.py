"""What the check corpus can say about styles and voice (mgc_model.descriptors): tags it with the
default model and compares the listed descriptors with what each recording's source says of it.

Labels come from the sources' own names, never from listening: the Spoken folder is speech
(eSpeak, Asterisk prompts); every other recording is instrumental (MIDI renderings, game
soundtracks) but the three vocal scores rendered with a synthetic choir; an MMA groove's name
is its style (mma-heavymetal, mma-zoom-reggae, mma-bossanova ...). Moods and instruments have
no such labels here: unmeasured.

Usage: python scripts/measure_descriptors.py CORPUS [--out DIR]   (CORPUS: the check corpus,
scripts/build_real_music_corpus.sh)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pyarrow.dataset as ds

# style -> the MMA groove names that are it
STYLE_GROOVES = {
    "Heavy Metal": r"heavymetal|mma-metal", "Punk": r"punk", "House": r"mma-house",
    "Techno": r"mma-techno", "Trance": r"mma-trance", "Drum and Bass": r"dnb",
    "Reggae": r"reggae", "Bluegrass": r"bluegrass", "Swing": r"swing|bigband",
    "Funk": r"funk", "Soul": r"soul", "R&B": r"rnb|mellowrb", "Salsa": r"salsa",
    "Latin": r"bossanova|calypso|merengue|salsa|samba|tango",
}
VOCAL_SCORES = ("chorale-choir", "palestrina", "monteverdi")


def truth(path: str) -> dict[str, bool]:
    name, folder = Path(path).stem, Path(path).parent.name
    spoken = folder == "Spoken"
    labels = {"Speech": spoken, "Instrumental": not spoken and not any(
        v in name for v in VOCAL_SCORES)}
    if name.startswith("mma-"):
        labels |= {style: bool(re.search(rx, name)) for style, rx in STYLE_GROOVES.items()}
    return labels


def measure(rows: list[dict]) -> dict[str, dict]:
    """Per descriptor: files labelled, listed, listed and right; precision and recall. A style
    is judged on the MMA grooves only (the only recordings whose source names a style)."""
    found: dict[str, dict] = {}
    for row in rows:
        listed = {d["name"] for kind in ("styles", "voice") for d in (row[kind] or [])}
        for name, is_it in truth(row["path"]).items():
            counts = found.setdefault(name, {"labelled": 0, "listed": 0, "right": 0, "judged": 0})
            counts["judged"] += 1
            counts["labelled"] += is_it
            counts["listed"] += name in listed
            counts["right"] += is_it and name in listed
    for counts in found.values():
        counts["precision"] = counts["right"] / counts["listed"] if counts["listed"] else None
        counts["recall"] = counts["right"] / counts["labelled"] if counts["labelled"] else None
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--out", default="mgc-descriptors")
    args = parser.parse_args(argv)
    from pipelines.graph.tag import TagOptions, run_tag

    if not (Path(args.out) / "run.json").exists():
        run_tag([args.corpus], args.out, TagOptions())
    rows = ds.dataset(Path(args.out) / "tags").to_table(
        columns=["path", "styles", "voice"]).to_pylist()
    found = measure(rows)
    print(f"{'descriptor':15} {'judged':>6} {'labelled':>8} {'listed':>6} {'right':>5} "
          f"{'precision':>9} {'recall':>6}")
    for name, c in sorted(found.items(), key=lambda kv: -kv[1]["labelled"]):
        p = "-" if c["precision"] is None else f"{c['precision']:.2f}"
        r = "-" if c["recall"] is None else f"{c['recall']:.2f}"
        print(f"{name:15} {c['judged']:6} {c['labelled']:8} {c['listed']:6} {c['right']:5} "
              f"{p:>9} {r:>6}")
    (Path(args.out) / "descriptors.json").write_text(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
