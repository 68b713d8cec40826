"""``mgc serve``: pages over a tag run's output, to look at rather than read Parquet.

One classify page (upload a file: its genre in bold and a bar per genre score), one library
page (genre counts, the library's own genres against mgc's, a filterable table, playback,
nearest neighbours) and the JSON API behind them. The standard library's
``ThreadingHTTPServer`` is enough for one user on a laptop and adds no dependency; the pages
are plain HTML, CSS and JavaScript shipped in ``pipelines/serve/static/``, with no build step and
nothing fetched from elsewhere.

Classifying an upload runs the tag pipeline's own parts on it (``PatchStream``, the
inference handler, ``MeanScores``, ``tag_row``) with the tag run's options, so the page
answers as ``mgc tag`` did.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import mimetypes
import os
import posixpath
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from urllib.parse import parse_qs, urlsplit

from fsspec.core import url_to_fs

from mgc_model import decision, registry
from mgc_model.contract import GenreTagger
from mgc_model.similarity import SimilarityIndex, UnknownTrack
from pipelines.audio.matching import normalise
from pipelines.audio.windows import PatchStream
from pipelines.graph.inference import DEFAULT_BATCH_SIZE, GenreModelHandler
from pipelines.graph.publish import read_tags
from pipelines.graph.steps import MeanScores, decoded_track, tag_row
from pipelines.graph.tag import DEFAULT_MAX_PATCHES
from pipelines.learn.agreement import agreement
from schemas.parquet import DESCRIPTOR_KINDS, genre_labels

DEFAULT_MAX_UPLOAD = 100 * 1024 * 1024
DRAIN_LIMIT = 1024 * 1024 * 1024  # a refused upload larger than this is not read at all
STATIC = {"classify.html", "library.html", "app.css", "bars.js", "classify.js", "library.js"}
PAGES = {"/": "classify.html", "/classify": "classify.html", "/library": "library.html"}
TABLE_COLUMNS = ("path", "track_id", "title", "artist", "album", "album_artist", "track_number",
                 "year", "file_genres", "genre", "genre_score", "genre_from", "genres",
                 *DESCRIPTOR_KINDS, "duration_s", "model")
SEARCHED = ("path", "title", "artist", "album")  # what the library page's search box looks in


class ClassifyError(Exception):
    """An upload that cannot be tagged; ``stage`` as in the error rows of ``mgc tag``."""

    def __init__(self, stage: str, error: str, message: str) -> None:
        super().__init__(message)
        self.stage, self.error, self.message = stage, error, message


@dataclass(frozen=True)
class RunOptions:
    """The options of the tag run whose answers the server repeats."""

    model: str = registry.DEFAULT_MODEL
    hop_seconds: float | None = None
    max_patches: int = DEFAULT_MAX_PATCHES  # 0: every patch
    top_k: int = decision.TOP_K
    threshold: float = decision.THRESHOLD
    batch_size: int = DEFAULT_BATCH_SIZE

    @classmethod
    def of_run(cls, out: str, model: str | None = None) -> RunOptions:
        """From ``OUT/run.json`` (defaults for what it lacks); ``model`` overrides its model."""
        fs, root = url_to_fs(normalise(out))
        given: dict = {}
        if fs.exists(posixpath.join(root, "run.json")):
            with fs.open(posixpath.join(root, "run.json")) as f:
                given = json.load(f).get("options", {})
        if "max_patches" in given and given["max_patches"] is None:
            given["max_patches"] = 0  # an older mgc wrote null for "every patch"
        known = {k: v for k, v in given.items() if k in cls.__dataclass_fields__ and v is not None}
        if model is not None:
            known["model"] = model
        return cls(**known)


class FileClassifier:
    """One audio file -> its tag row, by the same steps and options as ``mgc tag``."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.info = registry.describe(options.model)
        self.handler = GenreModelHandler(options.model, options.batch_size)
        self._model: GenreTagger | None = None
        self._lock = threading.Lock()  # one model, one prediction at a time

    def classify(self, path: str) -> dict:
        opts = self.options
        stream = PatchStream(self.info.frontends, self.info.frontend.hop_frames(opts.hop_seconds),
                             opts.max_patches or None)
        try:
            windows = list(stream.patches(path))
        except Exception as error:
            raise ClassifyError(stream.stage, type(error).__name__, str(error)) from None
        outputs = []
        with self._lock:
            if self._model is None:
                self._model = self.handler.load_model()
            try:
                for start in range(0, len(windows), opts.batch_size):
                    outputs += self.handler.run_inference(
                        windows[start:start + opts.batch_size], self._model)
            except FloatingPointError as error:
                raise ClassifyError("inference", type(error).__name__, str(error)) from None
        result = MeanScores(self.info).apply(result.inference for result in outputs)
        if result is None:
            raise ClassifyError("inference", "NoPredictions", "no patch was scored")
        return tag_row(decoded_track(path, stream), result, self.info.genres, self.info.ref,
                       opts.top_k, opts.threshold, datetime.now(timezone.utc),
                       self.info.descriptors)


def classify_answer(row: dict, genres: tuple[str, ...]) -> dict:
    """The JSON answer for a tag row: every genre's score, best first."""
    scores = sorted(zip(genres, row["genre_scores"], strict=True), key=lambda g: -g[1])
    return {
        "genre": row["genre"],
        "confident": decision.is_confident(row["genre_score"]),
        "confident_score": decision.CONFIDENT_SCORE,
        "scores": [{"name": name, "score": score} for name, score in scores],
        "model": row["model"],
        "genres": row["genres"],
        "duration_s": row["duration_s"],
        "n_patches": row["n_patches"],
        **{kind: row.get(kind) or [] for kind in DESCRIPTOR_KINDS},  # styles, moods ...
    }


class TagLibrary:
    """A finished tag run's tracks, loaded once: the table rows, genre counts, similarity."""

    def __init__(self, out: str) -> None:
        try:
            table = read_tags(out).to_table()
        except (FileNotFoundError, OSError) as error:
            raise ValueError(f"no tags found in {out!r} ({error}); run `mgc tag INPUT "
                             f"--output {out}` first") from None
        if table.num_rows == 0:
            raise ValueError(f"{out!r} has no tagged track; nothing to show")
        self.out = out
        self.labels = genre_labels(table.schema)
        self.model = table.schema.metadata.get(b"mgc.model", b"").decode()
        columns = [c for c in TABLE_COLUMNS if c in table.column_names]
        self.rows = table.select(columns).to_pylist()
        self.rows.sort(key=lambda r: r["path"])
        self.paths = {row["path"] for row in self.rows}
        self.counts = Counter(row["genre"] for row in self.rows)
        # how many tracks each style, mood, voice and instrument is listed for
        self.heard = {kind: Counter(d["name"] for row in self.rows for d in row.get(kind) or [])
                      for kind in DESCRIPTOR_KINDS}
        self.agreement = agreement((row.get("file_genres"), row["genre"]) for row in self.rows)
        self.similarity = SimilarityIndex.from_table(table)

    def summary(self) -> dict:
        return {
            "tracks": len(self.rows),
            "model": self.model,
            "genres": self.labels,
            "counts": [{"genre": g, "count": self.counts.get(g, 0)} for g in self.labels],
            "agreement": self.agreement,
            "heard": {kind: dict(counts.most_common()) for kind, counts in self.heard.items()},
        }

    def search(self, query: str = "", genre: str = "", offset: int = 0,
               limit: int = 100, heard: str = "") -> dict:
        """Tracks whose path, title, artist or album contains ``query`` (case-insensitive),
        whose genre is ``genre`` and that ``heard`` (``kind:name``, e.g. ``moods:Sad``) is
        listed for (any when empty), a page at a time."""
        query = query.casefold()
        kind, _, name = heard.partition(":")
        hits = [row for row in self.rows
                if (not genre or row["genre"] == genre)
                and (not heard or any(d["name"] == name for d in row.get(kind) or []))
                and (not query or any(query in (row.get(c) or "").casefold() for c in SEARCHED))]
        return {"total": len(hits), "offset": offset,
                "tracks": hits[offset:offset + limit]}


class MgcServer(ThreadingHTTPServer):
    """The HTTP server with what its handlers need; nothing lives at module level."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], library: TagLibrary,
                 classifier: FileClassifier, max_upload: int = DEFAULT_MAX_UPLOAD,
                 upload_dir: str | None = None) -> None:
        super().__init__(address, MgcHandler)
        self.library = library
        self.classifier = classifier
        self.max_upload = max_upload
        self.upload_dir = upload_dir

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class MgcHandler(BaseHTTPRequestHandler):
    server: MgcServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base's signature)
        pass  # quiet: one line per request drowns the terminal

    # -- responses ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: dict, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(payload, default=str).encode(), "application/json")

    def _error(self, status: int, message: str, **extra) -> None:
        self._json({"error": message, **extra}, status)

    # -- GET ---------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        routes = {"/api/summary": self._summary, "/api/tracks": self._tracks,
                  "/api/similar": self._similar, "/api/audio": self._audio}
        try:
            if url.path in PAGES:
                self._static(PAGES[url.path])
            elif url.path.startswith("/static/"):
                self._static(url.path.removeprefix("/static/"))
            elif url.path in routes:
                routes[url.path](query)
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no page {url.path}")
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_HEAD = do_GET

    def _static(self, name: str) -> None:
        if name not in STATIC:  # a fixed list: no path from the request reaches the disk
            self._error(HTTPStatus.NOT_FOUND, f"no file {name}")
            return
        body = (files("pipelines.serve") / "static" / name).read_bytes()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, body, f"{kind}; charset=utf-8")

    def _summary(self, query: dict) -> None:
        self._json(self.server.library.summary())

    def _tracks(self, query: dict) -> None:
        try:
            offset = max(0, int(query.get("offset", 0)))
            limit = min(1000, max(1, int(query.get("limit", 100))))
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "offset and limit must be whole numbers")
            return
        self._json(self.server.library.search(query.get("q", ""), query.get("genre", ""),
                                              offset, limit, query.get("heard", "")))

    def _similar(self, query: dict) -> None:
        if "path" not in query:
            self._error(HTTPStatus.BAD_REQUEST, "give the track: /api/similar?path=...&k=10")
            return
        try:
            k = int(query.get("k", 10))
            found = self.server.library.similarity.neighbours(query["path"], k)
        except UnknownTrack as error:
            self._error(HTTPStatus.NOT_FOUND, str(error))
            return
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "k must be a positive whole number")
            return
        self._json({"path": query["path"], "neighbours": [
            {"path": n.path, "genre": n.genre, "similarity": n.similarity} for n in found]})

    def _audio(self, query: dict) -> None:
        path = query.get("path", "")
        # only files the tag output lists, named exactly as listed: no traversal, no others
        if path not in self.server.library.paths or "://" in path:
            self._error(HTTPStatus.NOT_FOUND, "not a local track of the tag output")
            return
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                start, end = self._byte_range(size)
                f.seek(start)
                body = f.read(end - start + 1) if size else b""
        except OSError as error:
            self._error(HTTPStatus.NOT_FOUND, f"cannot read the file: {error.strerror}")
            return
        except ValueError:
            self._error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "bad Range header")
            return
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        headers = {"Accept-Ranges": "bytes"}
        status = HTTPStatus.OK
        if "Range" in self.headers and size:
            status = HTTPStatus.PARTIAL_CONTENT
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send(status, body, kind, headers)

    def _byte_range(self, size: int) -> tuple[int, int]:
        """(first, last) byte of a ``Range: bytes=a-b`` request (browsers seek with it)."""
        spec = self.headers.get("Range")
        if not spec or not size:
            return 0, size - 1
        unit, _, span = spec.partition("=")
        first, _, last = span.split(",")[0].strip().partition("-")
        if unit.strip() != "bytes":
            raise ValueError(spec)
        if not first:
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(size - 1, int(last) if last else size - 1)
        if start > end or start >= size:
            raise ValueError(spec)
        return start, end

    # -- POST --------------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if urlsplit(self.path).path != "/api/classify":
            self.close_connection = True
            self._error(HTTPStatus.NOT_FOUND, f"no API {self.path}; POST /api/classify")
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._classify()

    def _classify(self) -> None:
        limit = self.server.max_upload
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "send the upload with a Content-Length")
            return
        if length > limit:
            self._discard_body(length)
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"upload of {length} bytes is over the limit of {limit} bytes "
                        "(mgc serve --max-upload-mb)")
            return
        body = self.rfile.read(length)
        upload = _multipart_file(self.headers.get("Content-Type", ""), body, "file")
        del body
        if upload is None:
            self._error(HTTPStatus.BAD_REQUEST,
                        "send the audio as multipart/form-data in a field named 'file'")
            return
        name, data = upload
        status, answer = self._classify_upload(name or "the upload", data)
        if status == HTTPStatus.OK:
            answer["filename"] = name
        self._json(answer, status)

    def _classify_upload(self, name: str, data: bytes) -> tuple[int, dict]:
        """Tag the upload from a temporary file, deleted before the answer is sent."""
        suffix = os.path.splitext(os.path.basename(name))[1][:10]
        handle, path = tempfile.mkstemp(prefix="mgc-upload-", suffix=suffix,
                                        dir=self.server.upload_dir)
        classifier = self.server.classifier
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(data)
            row = classifier.classify(path)
        except ClassifyError as error:  # never show the server's temporary path
            return HTTPStatus.UNPROCESSABLE_ENTITY, {
                "error": f"{name} could not be tagged: {error.message.replace(path, name)}",
                "stage": error.stage, "type": error.error}
        except Exception as error:  # the server lives on; the user learns what happened
            return HTTPStatus.INTERNAL_SERVER_ERROR, {
                "error": f"tagging {name} failed: {type(error).__name__}: "
                         f"{str(error).replace(path, name)}"}
        finally:
            os.unlink(path)  # uploads are never kept
        return HTTPStatus.OK, classify_answer(row, classifier.info.genres)

    def _discard_body(self, length: int) -> None:
        """Read and drop a refused upload, so the client gets to read the 413 rather than a
        reset connection; past ``DRAIN_LIMIT`` the connection is just closed."""
        self.close_connection = True
        if length > DRAIN_LIMIT:
            return
        self.connection.settimeout(30)  # a stalled client does not hold the thread for ever
        with contextlib.suppress(OSError):
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)


def _multipart_file(content_type: str, body: bytes, field: str) -> tuple[str, bytes] | None:
    """(filename, bytes) of the form field ``field`` of a multipart/form-data body."""
    if not content_type.startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == field:
            return part.get_filename() or "", part.get_payload(decode=True) or b""
    return None


def make_server(tags: str, model: str | None = None, host: str = "127.0.0.1", port: int = 8000,
                max_upload: int = DEFAULT_MAX_UPLOAD, upload_dir: str | None = None
                ) -> MgcServer:
    """A server over the tag output ``tags`` (not yet serving: call ``serve_forever``).
    ValueError with what to do when the output or the model cannot be used."""
    if max_upload <= 0:
        raise ValueError("the upload limit must be positive")
    library = TagLibrary(tags)
    options = RunOptions.of_run(tags, model)
    classifier = FileClassifier(options)
    if upload_dir is not None:
        os.makedirs(upload_dir, exist_ok=True)
    return MgcServer((host, port), library, classifier, max_upload, upload_dir)


def serve(server: MgcServer) -> None:
    """Serve until interrupted (Ctrl-C)."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

