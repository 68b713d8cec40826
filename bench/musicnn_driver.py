"""Time musicnn 0.1.0's own tagger per file, the way its README uses it.

Runs inside bench/out/musicnn-venv (TF 2.21 + tf_keras, ``TF_USE_LEGACY_KERAS=1``), never in
mgc's venv: musicnn's modules switch TensorFlow to graph mode on import. Nothing in musicnn is
patched; if ``top_tags`` fails, the exact error is recorded and the README's other entry point
(``musicnn.extractor.extractor``) is timed instead.

Usage: python musicnn_driver.py RESULT.json MODEL FILE...
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback


def _call(fn, *args, **kwargs):
    """musicnn prints progress on stdout; keep it off ours."""
    with contextlib.redirect_stdout(sys.stderr):
        return fn(*args, **kwargs)


def main(argv: list[str]) -> int:
    result_path, model, *files = argv
    started = time.perf_counter()
    from musicnn import extractor, tagger

    import_s = time.perf_counter() - started
    result: dict = {"model": model, "import_s": import_s, "entry_point": "musicnn.tagger.top_tags",
                    "files": [], "error": None}
    use_extractor = False

    def tag(path: str) -> list[str]:
        if not use_extractor:
            return _call(tagger.top_tags, path, model=model, topN=3, print_tags=False)
        taggram, labels = _call(extractor.extractor, path, model=model, extract_features=False)
        return [labels[i] for i in taggram.mean(axis=0).argsort()[-3:][::-1]]

    for path in files:
        clock = time.perf_counter()
        try:
            tags = tag(path)
        except Exception as error:
            if use_extractor:
                raise
            result["error"] = "".join(traceback.format_exception_only(error)).strip()
            result["traceback"] = traceback.format_exc()
            result["entry_point"] = "musicnn.extractor.extractor"
            use_extractor = True
            clock = time.perf_counter()
            tags = tag(path)
        result["files"].append({"path": path, "seconds": time.perf_counter() - clock,
                                "tags": [str(t) for t in tags]})
    result["total_s"] = time.perf_counter() - started
    with open(result_path, "w") as out:
        json.dump(result, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
