"""Arrange the real-music check corpus as a personal library: albums, artists, an owner's tags.

Why: album and artist evidence and ``--min-score auto`` must be measured on a library shaped
like people's, not on loose clips (issue 21). Each source becomes what it publishes:

- a game's soundtrack (Debian's game music packages) is one artist, its clips cut in file
  order into albums of at most five tracks, so most have two albums or more;
- a speech voice is an artist and its clips a speech collection; Asterisk's prompts are one
  artist ('Asterisk') with an album per language;
- music21's scores are albums of their composer ('Bach', 'Mozart', ...), the folk tunes of
  Ryan's Mammoth Collection one artist in two albums;
- MMA's grooves, a style each, in 'Various Artists' compilations that mix genres (album
  artist 'Various Artists', each track the artist of its groove).

With ``--no-compilations`` the library is shaped as issue 21's: MMA's grooves become one
band per genre ('MMA Jazz Band', its albums of five grooves) and every artist's first album
is tagged, so every untagged file has an artist whose other album speaks.

The owner has tagged the first album of every artist, and every other album of the artists
that have only one, in their own words: one name for each of the clips' labels (LABELS.csv:
from each source's own information, never from a model), often one only the alias table
knows ('Symphonic', 'Chillout', 'Video Game Music'), spelt with case and spacing varying
from album to album. The rest, compilations included, carry no genre.
``truth.csv`` keeps every file's label, for ``scripts/measure_library_evidence.py``.

    .venv/bin/python scripts/make_album_library.py [CORPUS] [--out LIBRARY]
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import zlib
from collections import defaultdict
from pathlib import Path

from mutagen.flac import FLAC

ALBUM_SIZE = 5
# the owner's word for each label, as they spell it on one album or another (case and spacing
# vary): often a sub-genre or a name only the alias table knows
OWNER_WORDS = {
    "Blues": "Blues", "Classical": "Symphonic", "Country": "Bluegrass",
    "Electronic": "Chillout", "Folk": "Singer-Songwriter", "Hip-Hop": "Hip Hop",
    "Instrumental": "Video Game Music", "International": "World Music", "Jazz": "Swing",
    "Pop": "Synthpop", "Rock": "Hard Rock", "Soul-RnB": "R&B", "Spoken": "Spoken Word",
}
SPELLINGS = (str, str.lower, str.upper, lambda word: f" {word} ".replace(" ", "  ", 1))


def artist_of(source: str) -> str:
    """The artist a LABELS.csv source stands for."""
    if source.startswith("asterisk-core-sounds"):
        return "Asterisk"
    if source.startswith("mma groove"):
        return "MMA"
    found = re.match(r"music21 corpus (\w+)/", source)
    if found:
        return {"ryansMammoth": "Ryan's Mammoth Collection"}.get(found.group(1),
                                                                 found.group(1).title())
    return re.sub(r"-(music|data|common-sounds|1\.16-music)$", "", source)


def albums_of(rows: list[dict], compilations: bool = True) -> dict[tuple[str, str], list[dict]]:
    """(album artist, album) -> its rows, in file order."""
    by_artist: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["path"]):
        artist = artist_of(row["source"])
        if artist == "MMA" and not compilations:
            artist = f"MMA {row['genre']} Band"
        by_artist[artist].append(row)
    albums: dict[tuple[str, str], list[dict]] = {}
    leftover: list[dict] = []
    for artist, tracks in sorted(by_artist.items()):
        if artist == "Asterisk":  # an album per language
            for row in tracks:
                lang = re.search(r"sounds-?(\w*)", row["source"]).group(1) or "en"
                albums.setdefault((artist, f"Prompts ({lang})"), []).append(row)
        elif artist == "MMA":  # a groove per style, each its own artist: compilations
            leftover += tracks
        else:
            for i in range(0, len(tracks), ALBUM_SIZE):
                albums[(artist, f"Volume {i // ALBUM_SIZE + 1}")] = tracks[i:i + ALBUM_SIZE]
    leftover.sort(key=lambda r: zlib.crc32(r["path"].encode()))  # genres mixed
    for i in range(0, len(leftover), ALBUM_SIZE):
        albums[("Various Artists", f"Groove Sampler {i // ALBUM_SIZE + 1}")] = \
            leftover[i:i + ALBUM_SIZE]
    return albums


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default="/work/realmusic", type=Path)
    parser.add_argument("--out", default="/work/album-library", type=Path)
    parser.add_argument("--no-compilations", action="store_true",
                        help="issue 21's shape: MMA's grooves as a band per genre, every "
                             "artist's first album tagged")
    args = parser.parse_args(argv)
    with (args.corpus / "LABELS.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if args.out.exists():
        shutil.rmtree(args.out)
    albums = albums_of(rows, compilations=not args.no_compilations)
    seen_artists: dict[str, int] = defaultdict(int)
    for (artist, _) in albums:
        seen_artists[artist] += 1
    truth = []
    first_album_done: set[str] = set()
    for n, ((artist, album), tracks) in enumerate(albums.items()):
        compilation = artist == "Various Artists"
        if compilation:
            tagged = False
        elif seen_artists[artist] > 1 or args.no_compilations:
            tagged = artist not in first_album_done
        else:
            tagged = n % 2 == 0
        first_album_done.add(artist)
        folder = args.out / re.sub(r"[^\w .'()-]", "_", artist) / re.sub(r"[^\w .'()-]", "_",
                                                                         album)
        folder.mkdir(parents=True, exist_ok=True)
        for number, row in enumerate(tracks, 1):
            target = folder / f"{number:02d} {Path(row['path']).name}"
            shutil.copyfile(args.corpus / row["path"], target)
            audio = FLAC(target)
            audio.delete()
            track_artist = artist_of(row["source"]) if not compilation else re.sub(
                r"^mma groove (\S+).*", r"\1 (MMA)", row["source"])
            audio.update({"ARTIST": [track_artist], "ALBUMARTIST": [artist],
                          "ALBUM": [album], "TRACKNUMBER": [str(number)],
                          "TITLE": [Path(row["path"]).stem]})
            if tagged:
                spell = SPELLINGS[zlib.crc32(f"{artist}{album}".encode()) % len(SPELLINGS)]
                audio["GENRE"] = [spell(OWNER_WORDS[row["genre"]])]
            audio.save()
            truth.append({"path": str(target), "genre": row["genre"], "artist": artist,
                          "album": album, "tagged": int(tagged),
                          "compilation": int(compilation)})
    with (args.out / "truth.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(truth[0]))
        writer.writeheader()
        writer.writerows(truth)
    tagged = sum(t["tagged"] for t in truth)
    print(f"{len(truth)} tracks in {len(albums)} albums by {len(seen_artists)} album artists; "
          f"{tagged} carry the owner's genre, {len(truth) - tagged} none -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
