"""``mgc serve`` and ``mgc similar`` over a real tag run: the JSON API a page (or a user with
curl) relies on, its safety rules, and nearest neighbours by embedding."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import pyarrow as pa
import pytest

from mgc_model.similarity import SimilarityIndex, UnknownTrack, embedding_matrix
from pipelines import cli
from pipelines.serve.server import make_server
from serve_library import OWN_TAGS, UPLOAD_LIMIT


def request(srv, method: str, url: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, dict, bytes]:
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=120)
    try:
        conn.request(method, url, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def get_json(srv, url: str) -> tuple[int, dict]:
    status, _, body = request(srv, "GET", url)
    return status, json.loads(body)


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(srv, filename: str, data: bytes, field: str = "file") -> tuple[int, dict]:
    body, headers = multipart(field, filename, data)
    status, _, answer = request(srv, "POST", "/api/classify", body, headers)
    return status, json.loads(answer)


# -- classify -------------------------------------------------------------------------------

def test_classify_answers_as_mgc_tag_did(server, serve_tracks, tag_rows):
    labels = server.library.labels
    for key in ("chords", "noise"):
        path = serve_tracks[key]
        status, answer = upload(server, path.name, path.read_bytes())
        assert status == 200, answer
        row = tag_rows[str(path)]
        assert answer["genre"] == row["genre"]
        assert answer["model"] == row["model"]
        assert answer["n_patches"] == row["n_patches"]
        by_name = {s["name"]: s["score"] for s in answer["scores"]}
        assert sorted(by_name) == sorted(labels)
        np.testing.assert_allclose([by_name[g] for g in labels], row["genre_scores"], atol=1e-5)
        scores = [s["score"] for s in answer["scores"]]
        assert scores == sorted(scores, reverse=True)
        assert answer["scores"][0]["name"] == answer["genre"]


def test_upload_over_the_limit_is_413_and_the_server_lives_on(server):
    data = b"\0" * (UPLOAD_LIMIT + 1)
    status, answer = upload(server, "big.wav", data)
    assert status == 413
    assert "limit" in answer["error"]
    assert get_json(server, "/api/summary")[0] == 200


def test_non_audio_upload_is_a_clear_4xx(server):
    status, answer = upload(server, "notes.mp3", b"these are my notes, not audio\n" * 100)
    assert status == 422
    assert answer["stage"] == "decode"
    assert "notes.mp3" in answer["error"] and "mgc-upload" not in answer["error"]
    status, answer = upload(server, "empty.wav", b"")
    assert status == 422 and "empty" in answer["error"]
    assert get_json(server, "/api/summary")[0] == 200


def test_upload_without_the_file_field_is_400(server):
    status, answer = upload(server, "x.wav", b"abc", field="audio")
    assert status == 400 and "'file'" in answer["error"]
    status, _, body = request(server, "POST", "/api/classify", b"raw bytes",
                              {"Content-Type": "audio/wav"})
    assert status == 400


def test_uploaded_files_are_deleted_after_use(server, serve_tracks, monkeypatch):
    seen = []
    classify = server.classifier.classify

    def watched(path):
        seen.append((path, os.path.exists(path)))
        return classify(path)

    monkeypatch.setattr(server.classifier, "classify", watched)
    assert upload(server, "chords.wav", serve_tracks["chords"].read_bytes())[0] == 200
    assert upload(server, "bad.flac", b"fLaC but not really")[0] == 422
    assert [(os.path.dirname(p), there) for p, there in seen] == [(server.upload_dir, True)] * 2
    assert os.listdir(server.upload_dir) == []


# -- library, audio ---------------------------------------------------------------------------

def test_summary_and_track_search(server, serve_tracks, tag_rows):
    status, summary = get_json(server, "/api/summary")
    assert summary["tracks"] == len(serve_tracks)
    counts = {c["genre"]: c["count"] for c in summary["counts"]}
    assert sum(counts.values()) == len(serve_tracks)
    for genre in {row["genre"] for row in tag_rows.values()}:
        assert counts[genre] == sum(row["genre"] == genre for row in tag_rows.values())
    _, page = get_json(server, "/api/tracks?" + urlencode({"q": "CHORDS TWO"}))
    assert [t["path"] for t in page["tracks"]] == [str(serve_tracks["chords2"])]
    genre = tag_rows[str(serve_tracks["noise"])]["genre"]
    _, page = get_json(server, "/api/tracks?" + urlencode({"genre": genre}))
    assert page["total"] == counts[genre] and {t["genre"] for t in page["tracks"]} == {genre}
    _, page = get_json(server, "/api/tracks?limit=2&offset=1")
    assert page["total"] == len(serve_tracks) and len(page["tracks"]) == 2


def test_the_library_page_lists_and_filters_styles_moods_voice_instruments(server, tag_rows):
    """Each track's descriptors are in its row; the summary counts them; ``heard`` filters."""
    _, summary = get_json(server, "/api/summary")
    assert set(summary["heard"]) == {"styles", "moods", "voice", "instruments"}
    for kind, counts in summary["heard"].items():
        for name, count in counts.items():
            _, page = get_json(server, "/api/tracks?" + urlencode({"heard": f"{kind}:{name}"}))
            assert page["total"] == count == sum(
                any(d["name"] == name for d in row[kind] or []) for row in tag_rows.values())
    assert any(summary["heard"].values())  # the default model hears something in the library


def test_tracks_show_and_search_the_files_own_title_artist_and_album(server, serve_tracks,
                                                                     tag_rows):
    for key, (title, artist, album, _) in OWN_TAGS.items():
        for query in (title.upper(), artist.lower(), album):
            _, page = get_json(server, "/api/tracks?" + urlencode({"q": query}))
            assert [t["path"] for t in page["tracks"]] == [str(serve_tracks[key])], query
            found = page["tracks"][0]
            assert (found["title"], found["artist"], found["album"]) == (title, artist, album)
    _, page = get_json(server, "/api/tracks?" + urlencode({"q": "low hum"}))
    assert page["tracks"][0]["file_genres"] == ["Rock", "Blorp"]  # ID3 (17) is Rock
    _, page = get_json(server, "/api/tracks?" + urlencode({"q": "noise"}))
    assert page["tracks"][0]["title"] is None and page["tracks"][0]["file_genres"] is None


def test_summary_has_the_library_genres_against_mgcs(server, serve_tracks, tag_rows):
    _, summary = get_json(server, "/api/summary")
    result = summary["agreement"]
    ours = {key: tag_rows[str(serve_tracks[key])]["genre"] for key in OWN_TAGS}
    assert result["compared"] == 2
    assert result["agreed"] == (ours["chords2"] == "Jazz") + (ours["low"] == "Rock")
    assert result["unknown_names"] == {"Blorp": 1}
    rows = {genre: entry["mgc"] for genre, entry in result["by_genre"].items()}
    expected: dict = {}
    for key, library in (("chords2", "Jazz"), ("low", "Rock")):
        expected.setdefault(library, {}).setdefault(ours[key], 0)
        expected[library][ours[key]] += 1
    assert rows == expected
    run = json.loads((Path(server.library.out) / "run.json").read_text())
    assert run["agreement"] == result  # as mgc tag published it


def test_audio_is_served_only_for_listed_paths(server, serve_tracks, tmp_path):
    listed = serve_tracks["chords"]
    status, headers, body = request(server, "GET", "/api/audio?path=" + quote(str(listed)))
    assert status == 200 and body == listed.read_bytes()
    assert headers["Content-Type"].startswith("audio/")
    status, headers, body = request(server, "GET", "/api/audio?path=" + quote(str(listed)),
                                    headers={"Range": "bytes=10-19"})
    assert status == 206 and body == listed.read_bytes()[10:20]
    assert headers["Content-Range"] == f"bytes 10-19/{listed.stat().st_size}"
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"private")
    dotted = f"{listed.parent}/../{listed.parent.name}/{listed.name}"
    for path in ("/etc/passwd", str(secret), dotted, str(listed.parent)):
        status, _, body = request(server, "GET", "/api/audio?path=" + quote(path))
        assert status == 404, path
        assert b"private" not in body
    for url in ("/static/../serve.py", "/static/%2e%2e%2fserve.py", "/static/app.css/../x"):
        assert request(server, "GET", url)[0] == 404, url
    assert request(server, "GET", "/static/app.css")[0] == 200


def test_binds_to_this_machine_only_by_default(serve_tags):
    srv = make_server(str(serve_tags), port=0)
    try:
        assert srv.server_address[0] == "127.0.0.1"
    finally:
        srv.server_close()


# -- similarity -------------------------------------------------------------------------------

def test_similar_api_is_cosine_similarity_of_the_embeddings(server, serve_tracks, tag_rows):
    query = str(serve_tracks["chords"])
    status, answer = get_json(server, "/api/similar?" + urlencode({"path": query, "k": 2}))
    assert status == 200
    found = answer["neighbours"]
    assert len(found) == 2 and query not in [n["path"] for n in found]
    q = np.asarray(tag_rows[query]["embedding"])
    expected = {}
    for path, row in tag_rows.items():
        e = np.asarray(row["embedding"])
        if path != query:
            expected[path] = float(q @ e / np.linalg.norm(q) / np.linalg.norm(e))
    best = sorted(expected, key=expected.get, reverse=True)[:2]
    assert [n["path"] for n in found] == best
    for n in found:
        assert n["similarity"] == pytest.approx(expected[n["path"]], abs=1e-5)
        assert n["genre"] == tag_rows[n["path"]]["genre"]
    _, everyone = get_json(server, "/api/similar?" + urlencode({"path": query, "k": 50}))
    assert len(everyone["neighbours"]) == len(serve_tracks) - 1


def test_similar_api_refuses_unknown_tracks_and_bad_k(server, serve_tracks):
    status, answer = get_json(server, "/api/similar?path=/nowhere.mp3")
    assert status == 404 and "not among" in answer["error"]
    status, answer = get_json(server, "/api/similar?" + urlencode(
        {"path": str(serve_tracks["chords"]), "k": "0"}))
    assert status == 400 and "k" in answer["error"]


def test_mgc_similar_prints_the_same_neighbours(server, serve_tracks, serve_tags, capsys,
                                                monkeypatch):
    track = serve_tracks["chords2"]
    _, answer = get_json(server, "/api/similar?" + urlencode({"path": str(track), "k": 3}))
    monkeypatch.chdir(track.parent)  # a relative local path is accepted
    assert cli.main(["similar", track.name, "--tags", str(serve_tags), "-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(maxsplit=2) for line in lines] == [
        [f"{n['similarity']:.4f}", n["genre"], n["path"]] for n in answer["neighbours"]]
    with pytest.raises(SystemExit, match="not among the 4 tagged tracks"):
        cli.main(["similar", "/nowhere.mp3", "--tags", str(serve_tags)])
    with pytest.raises(SystemExit, match="run `mgc tag INPUT --output"):
        cli.main(["similar", track.name, "--tags", str(serve_tags / "missing")])
    with pytest.raises(SystemExit, match="did you mean --port"):
        cli.main(["serve", "--tags", str(serve_tags), "--prot", "1"])


def test_similarity_index_known_answers():
    embeddings = np.array([[1, 0, 0], [2, 0.2, 0], [0, 1, 0], [-1, 0, 0], [0, 0, 0]], np.float32)
    index = SimilarityIndex(list("abcde"), ["g1", "g1", "g2", "g3", "g4"], embeddings)
    found = index.neighbours("a", 3)
    assert [n.path for n in found] == ["b", "c", "e"]
    assert found[0].similarity == pytest.approx(2 / np.hypot(2, 0.2))
    assert found[1].similarity == pytest.approx(0.0)
    assert [n.path for n in index.neighbours("d", 4)] == ["c", "e", "b", "a"]
    assert index.neighbours("d", 4)[-1].similarity == pytest.approx(-1.0)
    with pytest.raises(UnknownTrack, match="not among the 5 tagged tracks"):
        index.neighbours("z")
    with pytest.raises(ValueError, match="positive"):
        index.neighbours("a", 0)
    ragged = pa.array([[1.0, 2.0], [1.0]], pa.list_(pa.float32()))
    with pytest.raises(ValueError, match="mix models"):
        embedding_matrix(ragged)


def test_similarity_is_fast_on_a_100k_track_library():
    rng = np.random.default_rng(0)
    n, dim = 100_000, 400
    embeddings = rng.standard_normal((n, dim), dtype=np.float32)
    index = SimilarityIndex([f"/music/{i}.mp3" for i in range(n)], ["Rock"] * n, embeddings)
    index.neighbours("/music/0.mp3", 10)  # first touch of the matrix
    start = time.perf_counter()
    for i in range(5):
        found = index.neighbours(f"/music/{i}.mp3", 10)
    per_query = (time.perf_counter() - start) / 5
    assert per_query < 0.5, f"{per_query:.3f} s per query"
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sims = unit @ unit[4]
    sims[4] = -np.inf
    assert [n.path for n in found] == [f"/music/{i}.mp3" for i in np.argsort(-sims)[:10]]


def test_mgc_serve_command_serves_until_stopped(serve_tags):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "serve", "--tags", str(serve_tags),
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"on (http://127\.0\.0\.1:(\d+))/", line)
        assert url, line
        conn = http.client.HTTPConnection("127.0.0.1", int(url.group(2)), timeout=30)
        conn.request("GET", "/api/summary")
        assert json.loads(conn.getresponse().read())["tracks"] == 4
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
