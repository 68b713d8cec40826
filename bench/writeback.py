"""What safety costs when writing genres into files: mgc's atomic write-back against a plain
in-place mutagen save, measured side by side on the same copies of the same tagged MP3s.

mgc copies each file beside itself, tags the copy, fsyncs it and renames it over the original;
a plain tagger rewrites the file in place (and can leave it half-written if killed). Also
measured: the nightly rerun (nothing to change, files only read) and a dry run.

Also what checking each copy before the rename costs (``pipelines.files.verify``: demux and
hash the audio twice, read the tags twice): the verified write against the same write
unverified.

Usage: python bench/writeback.py [--files N]   (part of `make bench`)
Writes bench/out/writeback.json.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import mutagen.id3 as id3
from PIL import Image

from pipelines.files import atomic, formats, writeback
from run import OUT, Row, log, make_corpus, metered, table, wait_for_quiet

WORK = OUT / "writeback"
MODEL = "musicnn@bench"
SCORES = {"Rock": 0.52, "Electronic": 0.31, "Jazz": 0.1}


def cover(size: int = 500) -> bytes:
    """A 500x500 JPEG cover, about the size real albums embed."""
    buffer = io.BytesIO()
    Image.effect_noise((size, size), 64).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def tag_like_a_library(path: Path, picture: bytes) -> None:
    """ID3v2.3 as most libraries hold it: text frames, cover, lyrics, replaygain; no genre."""
    tags = id3.ID3()
    tags.add(id3.TIT2(encoding=1, text=[path.stem]))
    tags.add(id3.TPE1(encoding=1, text=["Bench Artist"]))
    tags.add(id3.TALB(encoding=1, text=["Bench Album"]))
    tags.add(id3.APIC(encoding=0, mime="image/jpeg", type=3, desc="", data=picture))
    tags.add(id3.USLT(encoding=1, lang="eng", desc="", text="la la la\n" * 40))
    tags.add(id3.TXXX(encoding=1, desc="REPLAYGAIN_TRACK_GAIN", text=["-7.10 dB"]))
    tags.save(str(path), v2_version=3)


def fresh_copies(sources: Sequence[Path], name: str) -> list[Path]:
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return [Path(shutil.copy2(s, folder / s.name)) for s in sources]


def in_place_mutagen(path: Path) -> None:
    """What a simple tagging script does: change the frame, save over the file."""
    tags = id3.ID3(str(path))
    tags.delall("TCON")
    tags.add(id3.TCON(encoding=1, text=["Rock"]))
    tags.save(str(path), v2_version=3)


def expect(action: str, path: Path, options: writeback.WriteOptions) -> None:
    """mgc's write-back of one file, which must do ``action`` (a bench of skips is no bench)."""
    outcome = writeback.write_genres(str(path), SCORES, MODEL, options)
    assert outcome.action == action, (path, outcome)


def write_unverified(path: Path, options: writeback.WriteOptions) -> None:
    """mgc's write without the check of the copy (``pipelines.files.verify``): its cost is the
    difference from the verified write."""
    planned = writeback.plan(str(path), SCORES, MODEL, options)
    assert planned.action == "write", planned
    atomic.replace_atomically(
        planned.target, lambda tmp: formats.set_fields(tmp, planned.after, planned.provenance,
                                                       options.separator, kind=planned.kind),
        (planned.stat,), options.keep_mtime)


def timed(name: str, paths: Sequence[Path], each: Callable[[Path], object], note: str = ""
          ) -> Row:
    wait_for_quiet(60.0)
    with metered() as meter:
        for path in paths:
            each(path)
    return Row(name, meter.wall_s, len(paths), 0, meter.cores, meter.others_cores, note)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=120)
    args = parser.parse_args(argv)

    clips = make_corpus(args.files)
    picture = cover()
    originals = fresh_copies(clips, "originals")
    for path in originals:
        tag_like_a_library(path, picture)
    mb = sum(p.stat().st_size for p in originals) / 2**20
    log(f"write-back: {len(originals)} tagged MP3s, {mb:.0f} MB, cover {len(picture) // 1024} KB")

    # SCORES' top genre passes 0.5: every file is written (the default 0.85 would skip all)
    overwrite = writeback.WriteOptions(policy="overwrite", min_score=0.5)
    fill = writeback.WriteOptions(policy="fill", min_score=0.5)
    rows = []
    for attempt in range(2):  # twice, to see the noise; the second pair is reported
        plain = fresh_copies(originals, "plain")
        unchecked = fresh_copies(originals, "unchecked")
        safe = fresh_copies(originals, "safe")
        pair = [
            timed("plain in-place mutagen save", plain, in_place_mutagen),
            timed("mgc atomic write, copy not verified", unchecked,
                  lambda p: write_unverified(p, overwrite)),
            timed("mgc atomic write, verified (copy, tag, check, fsync, rename)", safe,
                  lambda p: expect("written", p, overwrite)),
        ]
        log(f"  attempt {attempt + 1}: " + ", ".join(f"{r.tracks_per_s:.0f} files/s"
                                                      for r in pair))
    rows.extend(pair)
    rows.append(timed("mgc rerun: already tagged, nothing written", safe,
                      lambda p: expect("unchanged", p, overwrite)))
    dry = writeback.WriteOptions(policy="fill", dry_run=True, min_score=0.5)
    rows.append(timed("mgc --dry-run (fill) on untagged files", fresh_copies(originals, "dry"),
                      lambda p: expect("would-write", p, dry)))
    untouched = fresh_copies(originals, "fill")
    rows.append(timed("mgc fill on untagged files", untouched,
                      lambda p: expect("written", p, fill)))

    ratios = {
        "plain in-place / mgc atomic (time per file)": rows[0].tracks_per_s / rows[2].tracks_per_s,
        "verified / unverified atomic write (time per file)": (
            rows[1].tracks_per_s / rows[2].tracks_per_s),
        "verification, ms per written file": 1000 * (1 / rows[2].tracks_per_s
                                                     - 1 / rows[1].tracks_per_s),
        "rerun / first write (time per file)": rows[2].tracks_per_s / rows[3].tracks_per_s,
    }
    tag = OUT / "results.json"
    if tag.exists():  # the tag bench of the same `make bench`: how much write-back adds
        e2e = next(r for r in json.loads(tag.read_text())["rows"] if r["name"] == "e2e-default")
        ratios["write-back time / tagging time per file"] = (
            e2e["tracks_per_s"] / rows[2].tracks_per_s)
    results = {"files": len(originals), "mb": mb, "rows": [r.as_dict() for r in rows],
               "ratios": ratios, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (OUT / "writeback.json").write_text(json.dumps(results, indent=1))
    print()
    print(table(rows))
    print()
    for name, value in ratios.items():
        print(f"{name:60} {value:7.3f}")
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
