"""``mgc playlists``: one extended M3U per genre, style or mood of a tag run, read back line by
line, opened by FFmpeg (PyAV's HLS demuxer decodes audio from its entries), rerun without
touching a user's own playlists; style and mood on a hand-made OUT; names safe everywhere."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path

import av
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mutagen.flac import FLAC

from audio import chord_track, write_audio
from pipelines.cli import main
from pipelines.files.playlists import (
    MANIFEST,
    assign_names,
    entry_path,
    extinf,
    render,
    safe_name,
    values_of,
)
from schemas.parquet import GENRE_SCORE

SR = 22050
# file (under the library) -> its own tags and length
LIBRARY = {
    "Ärtist Øne/Albüm/02.flac": ({"artist": "Ärtist Øne", "title": "Tïtle ♫ 音楽",
                                  "album": "Albüm", "tracknumber": "2"}, 3.0),
    "Ärtist Øne/Albüm/01.flac": ({"artist": "Ärtist Øne", "title": "First, with a comma",
                                  "album": "Albüm", "tracknumber": "1"}, 2.4),
    "loose/only title.flac": ({"title": "Just a Title"}, 2.0),
    "loose/untagged track.flac": ({}, 1.6),
}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def read_playlist(path: Path) -> list[tuple[str, str]]:
    """(#EXTINF line, path line) pairs, after checking the header."""
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM
    lines = raw.decode("utf-8").split("\n")
    assert lines[0] == "#EXTM3U" and lines[1].startswith("#PLAYLIST:") and lines[-1] == ""
    body = lines[2:-1]
    assert len(body) % 2 == 0
    pairs = list(zip(body[::2], body[1::2], strict=True))
    assert all(inf.startswith("#EXTINF:") and not p.startswith("#") for inf, p in pairs)
    return pairs


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """``mgc tag`` once over a small library of FLAC files, some with their own tags."""
    root = tmp_path_factory.mktemp("playlists")
    lib, out = root / "music", root / "out"
    for i, (name, (tags, seconds)) in enumerate(LIBRARY.items()):
        path = write_audio(lib / name, chord_track(seconds, SR, seed=i), SR)
        if tags:
            audio = FLAC(str(path))
            audio.update(tags)
            audio.save()
    code, printed, _ = run_cli("tag", str(lib), "--output", str(out), "--max-patches", "1",
                               "--no-progress")
    assert code == 0, printed
    rows = pq.read_table(out / "tags").to_pylist()
    assert len(rows) == len(LIBRARY)
    return {"root": root, "lib": lib, "out": out, "rows": {r["path"]: r for r in rows}}


def test_one_playlist_per_genre_read_back(tagged):
    into = tagged["root"] / "lists by genre"
    code, printed, err = run_cli("playlists", str(tagged["out"]), "--into", str(into))
    assert code == 0, err
    rows = tagged["rows"]
    genres = {r["genre"] for r in rows.values()}
    assert printed.startswith(f"Wrote {len(genres)} playlist")
    assert f"({len(rows)} entries) into {into}" in printed
    assert sorted(p.name for p in into.glob("*.m3u8")) == sorted(f"{g}.m3u8" for g in genres)
    seen = {}
    for playlist in into.glob("*.m3u8"):
        assert playlist.read_text("utf-8").split("\n")[1] == f"#PLAYLIST:{playlist.stem}"
        for inf, line in read_playlist(playlist):
            assert not os.path.isabs(line)  # relative to the playlist
            target = os.path.normpath(os.path.join(into, line))
            assert os.path.exists(target)
            row = rows[target]
            assert row["genre"] == playlist.stem
            seconds, _, shown = inf[len("#EXTINF:"):].partition(",")
            assert int(seconds) == round(row["duration_s"])
            seen[os.path.relpath(target, tagged["lib"])] = (int(seconds), shown, playlist.stem)
    assert set(seen) == set(LIBRARY)  # each track once: its best genre only
    assert seen["Ärtist Øne/Albüm/02.flac"][:2] == (3, "Ärtist Øne - Tïtle ♫ 音楽")
    assert seen["Ärtist Øne/Albüm/01.flac"][1] == "Ärtist Øne - First, with a comma"
    assert seen["loose/only title.flac"][1] == "Just a Title"
    assert seen["loose/untagged track.flac"][1] == "untagged track"
    manifest = json.loads((into / MANIFEST).read_text("utf-8"))
    assert set(manifest["playlists"]["genre"]) == {f"{g}.m3u8" for g in genres}


def test_ffmpeg_decodes_audio_from_a_playlist(tagged):
    """FFmpeg itself reads the .m3u8 (its HLS demuxer: #EXTM3U, #EXTINF, relative paths) and
    decodes every entry's audio, one after the other."""
    into = tagged["root"] / "lists for ffmpeg"
    assert run_cli("playlists", str(tagged["out"]), "--into", str(into),
                   "--min-score", "0")[0] == 0
    playlist = max(into.glob("*.m3u8"), key=lambda p: len(read_playlist(p)))
    entries = [os.path.normpath(os.path.join(into, line)) for _, line in read_playlist(playlist)]
    expected = sum(round(LIBRARY[os.path.relpath(e, tagged["lib"])][1] * SR) for e in entries)
    options = {"protocol_whitelist": "file,crypto,data", "allowed_extensions": "ALL",
               "extension_picky": "0", "live_start_index": "0"}
    with av.open(str(playlist), format="hls", options=options) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
    assert stream.codec_context.name == "flac"
    # with --min-score 0 a track is in each of its listed genres: one playlist holds several
    assert samples == expected and len(entries) >= 2


def test_min_score_puts_a_track_into_every_genre_it_lists_at_that_score(tagged):
    into = tagged["root"] / "lists by score"
    least = 0.05
    assert run_cli("playlists", str(tagged["out"]), "--into", str(into),
                   "--min-score", str(least))[0] == 0
    expected = {}
    for path, row in tagged["rows"].items():
        for g in row["genres"]:
            if g["score"] >= least:
                expected.setdefault(g["name"], set()).add(path)
    found = {p.stem: {os.path.normpath(os.path.join(into, line)) for _, line in
                      read_playlist(p)} for p in into.glob("*.m3u8")}
    assert found == expected


def hand_made_out(out: Path, rows: list[dict], *, styles: bool = True) -> Path:
    """A tag run's OUT/tags written by hand: the columns a playlist reads, ``styles`` too."""
    columns = {
        "path": pa.string(), "duration_s": pa.float64(), "genre": pa.string(),
        "genre_score": pa.float32(), "genres": pa.list_(GENRE_SCORE), "title": pa.string(),
        "artist": pa.string(), "album": pa.string(), "album_artist": pa.string(),
        "track_number": pa.int32(),
    }
    if styles:
        columns["styles"] = pa.list_(GENRE_SCORE)
    schema = pa.schema(list(columns.items()))
    full = [{c: r.get(c) for c in columns} for r in rows]
    (out / "tags").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(full, schema=schema), out / "tags" / "part-0.parquet")
    return out


def row(path: str, genres: list[tuple[str, float]], styles=(), **tags) -> dict:
    listed = [{"name": n, "score": s} for n, s in genres]
    return {"path": path, "duration_s": 200.4, "genre": genres[0][0] if genres else None,
            "genre_score": genres[0][1] if genres else None, "genres": listed,
            "styles": [{"name": n, "score": s} for n, s in styles], **tags}


def test_by_style_on_a_hand_made_out(tmp_path):
    out = hand_made_out(tmp_path / "out", [
        row("/m/b.flac", [("Rock", 0.9)], [("Rock/Hard Rock", 0.8), ("Rock/Metal", 0.6)],
            artist="Zed", title="B"),
        row("/m/a.flac", [("Rock", 0.9)], [("Rock/Hard Rock", 0.7)], artist="Abba", title="A"),
        row("/m/c.flac", [("Pop", 0.9)], [("J-Pop/シティポップ", 0.9)], artist="竹内まりや",
            title="Plastic Love"),
        row("/m/d.flac", [("Pop", 0.9)], []),
    ])
    into = tmp_path / "lists" / "by style"
    code, printed, err = run_cli("playlists", str(out), "--into", str(into), "--by", "style")
    assert code == 0, err
    assert "Wrote 2 playlists by style (3 entries)" in printed
    hard = into / "Rock_Hard Rock.m3u8"
    text = hard.read_text("utf-8").split("\n")
    assert text[:2] == ["#EXTM3U", "#PLAYLIST:Rock/Hard Rock"]
    def rel(path):
        return os.path.relpath(path, into)

    assert rel("/m/a.flac").startswith("../../")
    assert read_playlist(hard) == [("#EXTINF:200,Abba - A", rel("/m/a.flac")),
                                   ("#EXTINF:200,Zed - B", rel("/m/b.flac"))]
    assert read_playlist(into / "J-Pop_シティポップ.m3u8") == [
        ("#EXTINF:200,竹内まりや - Plastic Love", rel("/m/c.flac"))]
    code, printed, _ = run_cli("playlists", str(out), "--into", str(into), "--by", "style",
                               "--min-score", "0.5")
    assert "Wrote 3 playlists by style (4 entries)" in printed
    assert [p for _, p in read_playlist(into / "Rock_Metal.m3u8")] == [rel("/m/b.flac")]


def test_missing_column_says_what_to_do(tmp_path):
    out = hand_made_out(tmp_path / "out", [row("/m/a.flac", [("Rock", 0.9)])], styles=False)
    code, printed, err = run_cli("playlists", str(out), "--into", str(tmp_path / "l"),
                                 "--by", "mood")
    assert code == 1 and printed == ""
    assert "has no moods: tag again with this mgc" in err
    assert not (tmp_path / "l").exists()


def test_no_run_in_out(tmp_path):
    code, _, err = run_cli("playlists", str(tmp_path / "nothing"), "--into", str(tmp_path / "l"))
    assert code == 1 and "no tag run in" in err and "mgc tag LIB --output" in err


@pytest.mark.parametrize("argv, message", [
    (["--by", "genres"], "invalid choice: 'genres'"),
    (["--min-score", "1.5"], "a score is from 0 to 1"),
    (["--min-score", "high"], "not a number"),
    (["--into-dir", "x"], "did you mean --into?"),
])
def test_wrong_flags_are_refused_clearly(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        main(["playlists", str(tmp_path), "--into", str(tmp_path / "l"), *argv])
    assert message in capsys.readouterr().err + str(stop.value.code)


def test_rerun_removes_only_its_own_stale_playlists(tmp_path):
    into = tmp_path / "lists"
    into.mkdir()
    (into / "mine.m3u8").write_text("#EXTM3U\n/my/song.flac\n", "utf-8")
    (into / "Jazz.m3u8").write_text("#EXTM3U\n/my/jazz.flac\n", "utf-8")  # a user's own
    first = hand_made_out(tmp_path / "one", [
        row("/m/a.flac", [("Rock", 0.9)]), row("/m/b.flac", [("Pop", 0.9)]),
        row("/m/c.flac", [("Jazz", 0.9)]), row("/m/d.flac", [("Blues", 0.9)]),
        row("/m/e.flac", [("Música Popular Brasileira", 0.9)])])
    code, printed, _ = run_cli("playlists", str(first), "--into", str(into))
    assert code == 0 and "Wrote 5 playlists" in printed
    # the user's Jazz.m3u8 is not overwritten: mgc's takes the next name
    assert (into / "Jazz.m3u8").read_text("utf-8") == "#EXTM3U\n/my/jazz.flac\n"
    assert read_playlist(into / "Jazz (2).m3u8")[0][1] == os.path.relpath("/m/c.flac", into)
    assert (into / "Música Popular Brasileira.m3u8").exists()
    # the user edits mgc's Blues playlist: it is theirs now
    (into / "Blues.m3u8").write_text("#EXTM3U\n/m/d.flac\n/my/more.flac\n", "utf-8")
    second = hand_made_out(tmp_path / "two", [row("/m/a.flac", [("Rock", 0.9)])])
    code, printed, err = run_cli("playlists", str(second), "--into", str(into))
    assert code == 0
    assert "removed 3 of an earlier run" in printed
    assert "kept Blues.m3u8: changed since" in err
    assert sorted(p.name for p in into.iterdir()) == sorted(
        [MANIFEST, "Blues.m3u8", "Jazz.m3u8", "Rock.m3u8", "mine.m3u8"])
    assert (into / "mine.m3u8").read_text("utf-8") == "#EXTM3U\n/my/song.flac\n"
    manifest = json.loads((into / MANIFEST).read_text("utf-8"))
    assert set(manifest["playlists"]["genre"]) == {"Rock.m3u8"}
    # another kind into the same folder leaves the genre playlists alone
    rock = (into / "Rock.m3u8").read_bytes()
    styled = hand_made_out(tmp_path / "three", [row("/m/s.flac", [("Pop", 0.9)], [("Rock", 0.9)])])
    assert run_cli("playlists", str(styled), "--into", str(into), "--by", "style")[0] == 0
    assert (into / "Rock.m3u8").read_bytes() == rock
    assert read_playlist(into / "Rock (2).m3u8")[0][1] == os.path.relpath("/m/s.flac", into)
    assert run_cli("playlists", str(second), "--into", str(into))[0] == 0  # genre again
    assert (into / "Rock (2).m3u8").exists()
    assert [p.name for p in into.iterdir() if p.name.endswith(".tmp")] == []  # none left
    # a damaged manifest names a file outside DIR: it is not touched
    outside = tmp_path / "outside.m3u8"
    outside.write_text("#EXTM3U\n", "utf-8")
    manifest = json.loads((into / MANIFEST).read_text("utf-8"))
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()  # as if mgc had written it
    manifest["playlists"]["genre"]["../outside.m3u8"] = {"value": "X", "sha256": digest}
    (into / MANIFEST).write_text(json.dumps(manifest), "utf-8")
    assert run_cli("playlists", str(second), "--into", str(into))[0] == 0
    assert outside.exists()


def test_file_names_are_safe_everywhere():
    assert safe_name("Rock/Hard Rock") == "Rock_Hard Rock"
    assert safe_name('a\\b:c*d?e"f<g>h|i') == "a_b_c_d_e_f_g_h_i"
    assert safe_name("Tab\there\x00") == "Tab_here_"
    assert safe_name("Dots... ") == "Dots"
    assert safe_name("..") == "_"
    assert safe_name(".hidden") == "_hidden"
    assert safe_name("CON") == "_CON" and safe_name("lpt1.x") == "_lpt1.x"
    assert safe_name("Música ♫ 日本") == "Música ♫ 日本"
    assert safe_name("Mu\u0301sica") == "Música"  # NFC: one name on macOS and Linux
    assert len(safe_name("é" * 300).encode()) <= 255 - len(".m3u8")
    names = assign_names(["AC/DC", "AC_DC", "Rock", "rock", "ROCK"], taken=["Rock (2).m3u8"])
    assert names == {"AC/DC": "AC_DC.m3u8", "AC_DC": "AC_DC (2).m3u8", "Rock": "Rock.m3u8",
                     "rock": "rock (3).m3u8", "ROCK": "ROCK (4).m3u8"}


def test_entries_and_membership():
    r = {"path": "gs://bucket/x/track.mp3", "duration_s": None, "title": "Line\nbreak",
         "artist": None}
    assert extinf(r) == "#EXTINF:-1,Line break"
    assert entry_path("gs://bucket/x/track.mp3", "/lists") == "gs://bucket/x/track.mp3"
    assert entry_path("/lists/#1 hit.flac", "/lists") == os.path.join(".", "#1 hit.flac")
    assert entry_path("/music/a.flac", "/lists/genre") == "../../music/a.flac"
    listed = {"genre": "Rock", "genres": [{"name": "Rock", "score": 0.9},
                                          {"name": "Pop", "score": 0.3}]}
    assert values_of(listed, "genre", None) == ["Rock"]
    assert values_of(listed, "genre", 0.3) == ["Rock", "Pop"]
    assert values_of(listed, "genre", 0.95) == []
    assert values_of({"styles": None}, "style", None) == []


def test_order_is_album_artist_album_track_number_path():
    rows = [
        {"path": "/m/z.flac", "artist": None, "title": "no artist"},
        {"path": "/m/b2.flac", "artist": "beta", "album": "Two", "track_number": 1},
        {"path": "/m/b1-10.flac", "artist": "Beta", "album": "one", "track_number": 10},
        {"path": "/m/b1-2.flac", "artist": "Beta", "album": "one", "track_number": 2},
        {"path": "/m/b1-x.flac", "artist": "Beta", "album": "one", "track_number": None},
        {"path": "/m/guest.flac", "artist": "Zed", "album_artist": "Alpha", "album": "Hits"},
    ]
    text = render("X", rows, "/m").split("\n")
    assert text[3::2][:6] == ["guest.flac", "b1-2.flac", "b1-10.flac", "b1-x.flac",
                              "b2.flac", "z.flac"]
    assert text[2] == "#EXTINF:-1,Zed - guest"
