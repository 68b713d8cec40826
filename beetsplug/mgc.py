"""mgc for beets: ``beet mgc [-p] [-f] [QUERY]`` tags a beets library's items with mgc's genres.

Installed with mgc (``pip install 'mgc[beets]'``) and enabled with ``plugins: mgc`` in beets'
config; docs/beets.md describes it for users. The matched items' files go through mgc's tag
pipeline in this process (``pipelines.graph.tag.run_tag``, incremental: its output folder,
``mgc: output``, is the state, so an unchanged file is not analysed twice). Then, per item:

- the flexible fields ``mgc_genre`` (mgc's top genre), ``mgc_score`` (its score, a float) and
  ``mgc_model`` are set, always: they live in beets' database only;
- beets' own genre field (``genres``, a list, where the installed beets has it; else
  ``genre``) gets the genres mgc is confident of (``mgc_model.decision.to_write`` at
  ``min_score``, at most ``count``), only where the item has no genre yet, unless ``--force``
  or ``keep_existing: no``; a genre is never cleared because mgc is not confident.

mgc's own write-back is off: files are written by beets (``Item.try_sync``), and only where
beets' ``import.write`` says so, as every beets command that edits metadata does, so the
database and the files agree. ``--pretend`` prints the changes and changes nothing.

With ``auto: yes`` an import stage notes the imported items, and they are tagged together,
in one pipeline run, when the import ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence

from beets import config, ui
from beets.dbcore import types
from beets.library import Item, Library
from beets.plugins import BeetsPlugin
from mediafile import (
    ASFStorageStyle,
    MediaField,
    MP3DescStorageStyle,
    MP4StorageStyle,
    StorageStyle,
)

from pipelines.files.formats import MP4_FREEFORM, SCORES_KEY

AUTO = "auto"
# beets 2.14 made the genre a list (``genres``); older releases keep one string (``genre``)
GENRE_FIELD = "genres" if "genres" in Item._fields else "genre"
LEGACY_SEPARATOR = ", "  # several genres in the single ``genre`` string of an older beets
GLOB_CHARS = "*?["
MGC_FIELDS = ("mgc_genre", "mgc_score", "mgc_model")  # flexible fields: the database only
# The genres mgc put into beets' genre field, with their scores, as JSON: beets writes it into
# the file beside them, where ``mgc tag --write-tags`` keeps its own (MGC_SCORES), so that mgc
# never takes the genres it chose for the library's own (pipelines/files/tags.py)
SCORES_FIELD = "mgc_scores"
SCORES_MEDIA_FIELD = MediaField(
    MP3DescStorageStyle(SCORES_KEY), MP4StorageStyle(MP4_FREEFORM + SCORES_KEY),
    StorageStyle(SCORES_KEY), ASFStorageStyle(SCORES_KEY))


def _escape_glob(path: str) -> str:
    """A path as a literal for mgc's matching, which reads ``*?[`` as a glob."""
    return "".join(f"[{c}]" if c in GLOB_CHARS else c for c in path)


def _path(item: Item) -> str:
    return os.path.abspath(os.fsdecode(item.path))


def current_genres(item: Item) -> list[str]:
    value = item.get(GENRE_FIELD, with_album=False)
    if GENRE_FIELD == "genres":
        return [g for g in (value or []) if g and g.strip()]
    return [value] if value and value.strip() else []


def set_genres(item: Item, genres: Sequence[str]) -> None:
    if GENRE_FIELD == "genres":
        item.genres = list(genres)
    else:
        item.genre = LEGACY_SEPARATOR.join(genres)


class MgcPlugin(BeetsPlugin):
    item_types = {"mgc_genre": types.STRING, "mgc_score": types.Float(2),
                  "mgc_model": types.STRING, SCORES_FIELD: types.STRING}

    def __init__(self) -> None:
        super().__init__("mgc")
        self.config.add({
            "min_score": AUTO,  # auto: the threshold mgc measured on the library (run.json)
            "count": 1,  # genres at most per item
            "keep_existing": True,  # an item with a genre keeps it (unless --force)
            "auto": False,  # tag imported items when an import ends
            "output": None,  # mgc's output and state; default: <beets config dir>/mgc
            "model": None,  # default: mgc's default model
        })
        self._imported: list[int] = []
        self.add_media_field(SCORES_FIELD, SCORES_MEDIA_FIELD)
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]
            self.register_listener("import", self.import_done)
        if GENRE_FIELD == "genres" and "genre" not in Item._fields:
            # ``$genre`` of a format string, gone with beets 2.14's list: the genres joined
            self.template_fields["genre"] = lambda item: "; ".join(current_genres(item))

    # --- configuration ------------------------------------------------------------------

    def output(self) -> str:
        folder = self.config["output"].get()
        if folder:
            return os.path.abspath(os.path.expanduser(str(folder)))
        return os.path.join(config.config_dir(), "mgc")

    def min_score(self) -> float | str:
        value = self.config["min_score"].get()
        if isinstance(value, str) and value.strip().lower() == AUTO:
            return AUTO
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise ui.UserError(f"mgc: min_score must be auto or a score between 0 and 1, "
                               f"not {value!r}") from None
        if not 0.0 <= score <= 1.0:
            raise ui.UserError(f"mgc: min_score must be between 0 and 1, not {score}")
        return score

    def count(self) -> int:
        count = self.config["count"].get(int)
        if count < 1:
            raise ui.UserError("mgc: count must be at least 1")
        return count

    # --- the command --------------------------------------------------------------------

    def commands(self) -> list[ui.Subcommand]:
        cmd = ui.Subcommand("mgc", help="tag genres with mgc (music genre classification)")
        cmd.parser.add_option("-p", "--pretend", action="store_true", default=False,
                              help="show what would change, change nothing")
        cmd.parser.add_option("-f", "--force", action="store_true", default=False,
                              help="replace the genres items already have")
        cmd.func = self.command
        return [cmd]

    def command(self, lib: Library, opts, args: list[str]) -> None:
        items = list(lib.items(args))
        if not items:
            ui.print_("mgc: no item matches")
            return
        self.tag(lib, items, pretend=opts.pretend, force=opts.force,
                 write=ui.should_write())

    def imported(self, session, task) -> None:
        """Import stage (``auto: yes``): note the items; ``import_done`` tags them."""
        self._imported += [item.id for item in task.imported_items() if item.id is not None]

    def import_done(self, lib: Library, paths=None) -> None:
        ids, self._imported = self._imported, []
        items = [item for item in (lib.get_item(i) for i in ids) if item is not None]
        if items:
            self.tag(lib, items, pretend=False, force=False, write=ui.should_write())

    # --- the work -----------------------------------------------------------------------

    def tag(self, lib: Library, items: Sequence[Item], pretend: bool, force: bool,
            write: bool) -> dict[str, int]:
        """Run mgc on ``items``' files and apply its genres; returns counts by outcome."""
        min_score, count = self.min_score(), self.count()
        replace = force or not self.config["keep_existing"].get(bool)
        out = self.output()
        rows, calibration, errors = self.run_pipeline(lib, items, out)
        counts = {"changed": 0, "unchanged": 0, "kept": 0, "failed": 0}
        for item in items:
            row = rows.get(_path(item))
            if row is None:
                counts["failed"] += 1
                why = errors.get(_path(item)) or "the file is missing"
                self._log.warning("could not tag {}: {}", item.filepath, why)
                continue
            item.mgc_genre = row["genre"] or ""
            item.mgc_score = round(float(row["genre_score"] or 0.0), 4)
            item.mgc_model = row["model"] or ""
            threshold = min_score
            if threshold == AUTO:
                threshold = _auto_threshold(calibration, row.get("genre_from"))
            scored = choose(row["scores"], threshold, count)
            chosen = [name for name, _ in scored]
            existing = current_genres(item)
            genres_change = bool(chosen) and chosen != existing and (not existing or replace)
            if genres_change:
                set_genres(item, chosen)
                item[SCORES_FIELD] = json.dumps({name: round(score, 2) for name, score in scored},
                                                ensure_ascii=False)
            elif existing and chosen and chosen != existing:
                counts["kept"] += 1
            changed = ui.show_model_changes(item, fields=[GENRE_FIELD, SCORES_FIELD,
                                                          *MGC_FIELDS])
            counts["changed" if changed else "unchanged"] += 1
            if pretend or not changed:
                continue
            if genres_change:
                # beets writes the file (where import.write says so) and stores the item
                item.try_sync(write=write, move=False)
            else:  # mgc's own fields live in the database only: the file is left alone
                item.store()
        verb = "would change" if pretend else "changed"
        ui.print_(f"mgc: {verb} {counts['changed']} of {len(items)} items "
                  f"({counts['kept']} kept their own genre, {counts['failed']} not tagged"
                  f"{'' if write or pretend else '; files not written: import.write is off'})")
        return counts

    def run_pipeline(self, lib: Library, items: Iterable[Item], out: str
                     ) -> tuple[dict[str, dict], dict, dict[str, str]]:
        """mgc's tag pipeline on the items' files, incrementally in ``out``: {path: row with
        its ``scores`` by genre}, the run's ``calibration`` (run.json) and {path: why} of
        the files it could not tag (``out/errors``)."""
        from mgc_model import registry
        from pipelines.terminal.console import quiet_native_stderr

        model = str(self.config["model"].get() or registry.DEFAULT_MODEL)
        info = registry.describe(model)
        # a file gone from the disk is not tagged (beets' ``update`` forgets it)
        wanted = {path for path in map(_path, items) if os.path.isfile(path)}
        if not wanted:
            return {}, {}, {}
        verbose = config["verbose"].get(int) > 0
        os.makedirs(out, exist_ok=True)
        with quiet_native_stderr(verbose), _quiet_root_logger(verbose):
            # Beam and the model's runtime, only when the command runs
            from pipelines.graph.publish import read_tags
            from pipelines.graph.tag import TagOptions, run_tag

            inputs = sorted(wanted | _unchanged_previous(lib, out, wanted))
            ui.print_(f"mgc: tagging {len(wanted)} files (state in {out})")
            # write-back off (TagOptions.write None): beets writes the files
            summary = run_tag([_escape_glob(p) for p in inputs], out, TagOptions(model=model),
                              incremental=True)
        if summary is not None:
            ui.print_(f"mgc: {summary.tagged} files analysed, {summary.skipped} unchanged since "
                      f"the last run, {summary.failed} failed")
        table = read_tags(out).to_table(
            columns=["path", "genre", "genre_score", "genre_scores", "genre_from", "model"])
        rows = {}
        for row in table.to_pylist():
            if row["path"] in wanted:
                row["scores"] = dict(zip(info.genres, row["genre_scores"] or (), strict=False))
                rows[row["path"]] = row
        try:
            with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
                calibration = json.load(f).get("calibration") or {}
        except (OSError, ValueError):
            calibration = {}
        errors = {}
        with contextlib.suppress(Exception):  # no errors folder: nothing failed
            for error in read_errors(out):
                if error["path"] in wanted:
                    errors[error["path"]] = f"{error['error']}: {error['message']}"
        return rows, calibration, errors


@contextlib.contextmanager
def _quiet_root_logger(verbose: bool) -> Iterator[None]:
    """Beam and its imports log start-up warnings to the root logger: off the terminal
    unless beets is verbose (``beet -v mgc``); and the root handlers they add are removed."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    if not verbose:
        root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
        # a handler set up meanwhile (Beam's logging.basicConfig) writes to the stderr of
        # quiet_native_stderr, closed after the run, and would print beets' lines twice
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)


def choose(scores: dict[str, float], min_score: float, count: int) -> list[tuple[str, float]]:
    """The genres mgc would write into the file (``mgc tag --write-tags``' own choice)."""
    from mgc_model import decision

    return decision.to_write(scores, min_score, count)


def _auto_threshold(calibration: dict, genre_from: str | None) -> float:
    """``min_score: auto``: the least score measured on this library for the row's kind of
    evidence (``mgc_model.calibration``); the check corpus's where run.json has none."""
    from mgc_model.calibration import kind_of
    from mgc_model.decision import CONFIDENT_SCORE

    measured = calibration.get(kind_of(genre_from)) or {}
    return float(measured.get("min_score", CONFIDENT_SCORE))


def read_errors(out: str) -> list[dict]:
    import pyarrow.dataset as ds

    table = ds.dataset(os.path.join(out, "errors"), format="parquet").to_table(
        columns=["path", "error", "message"])
    return table.to_pylist()


def _unchanged_previous(lib: Library, out: str, wanted: set[str]) -> set[str]:
    """Files of the previous run, still in the library and unchanged since (same size and
    modification time): given to the run again, they are carried over, not analysed, so a
    ``beet mgc QUERY`` keeps the rest of the library's state (and its album and artist
    evidence) instead of dropping it."""
    if not os.path.isdir(os.path.join(out, "tags")):
        return set()
    from pipelines.graph.publish import read_tags

    try:
        table = read_tags(out).to_table(columns=["path", "size", "mtime_ns"])
    except Exception:  # no usable state: a full run
        return set()
    previous = {row["path"]: row for row in table.to_pylist() if row["path"] not in wanted}
    if not previous:
        return set()
    in_library = {_path(item) for item in lib.items()}
    kept = set()
    for path, row in previous.items():
        if path not in in_library:
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if st.st_size == row["size"] and st.st_mtime_ns == row["mtime_ns"]:
            kept.add(path)
    return kept
