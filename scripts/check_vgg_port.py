"""Check the Keras port of musicnn's VGG (``mgc_model/musicnn_vgg.py``) against the ORIGINAL
TF 1 graphs of ``MSD_vgg`` and ``MTT_vgg``.

Why: a port that loads every weight can still be wrong (a pool stride, the flatten order, a
batch-norm epsilon) and give plausible tags. The reference side never touches the port: it
imports the ``.meta`` graph saved beside each checkpoint (as
``scripts/make_musicnn_reference.py`` does for musicnn), restores the checkpoint into it and
evaluates it with ``is_training=False``. Inputs: the four log-mel patches of
``tests/data/musicnn_reference.npz`` and, if the corpus is there, the first window of a few
real clips through the project's front-end. Exit status 1 if a tag or penultimate value
differs by more than ``--tolerance``.

    .venv/bin/python scripts/check_vgg_port.py [--corpus /work/realmusic] [--clips 4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.make_musicnn_reference import (  # noqa: E402
    INPUT_TENSOR,
    IS_TRAINING_TENSOR,
    TAGS_TENSOR,
    load_meta_graph,
    musicnn_dir,
)

MODELS = ("MSD_vgg", "MTT_vgg")
# tf.compat.v1.layers.flatten of the last pool in vgg() (TF 1.11/1.12 graph names)
PENULTIMATE_TENSOR = "model/Flatten/flatten/Reshape:0"
REFERENCE = ROOT / "tests" / "data" / "musicnn_reference.npz"


def run_original(model_dir: Path, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tags, flattened last pool) of the original graph restored from its checkpoint."""
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(load_meta_graph(model_dir / ".meta"),
                                                     clear_devices=True)
        for name, op in ((INPUT_TENSOR, "Placeholder"), (IS_TRAINING_TENSOR, "Placeholder"),
                         (TAGS_TENSOR, "Sigmoid"), (PENULTIMATE_TENSOR, "Reshape")):
            found = graph.get_tensor_by_name(name).op.type
            if found != op:
                raise RuntimeError(f"{name} is a {found} op, expected {op}")
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, str(model_dir) + "/")
            tags, flat = sess.run([TAGS_TENSOR, PENULTIMATE_TENSOR],
                                  feed_dict={INPUT_TENSOR: inputs, IS_TRAINING_TENSOR: False})
    return tags.astype(np.float32), flat.astype(np.float32)


def real_patches(corpus: Path, n_clips: int) -> tuple[np.ndarray, list[str]]:
    """The first analysis window of the first ``n_clips`` clips (one per genre folder), cut
    and log-mel'd by the pipeline's own front-end."""
    from mgc_model.frontend import FrontendConfig
    from pipelines.audio.windows import PatchStream
    from scripts.check_real_music import load_clips

    patches, names, genres = [], [], set()
    for clip in load_clips(corpus):
        if len(patches) == n_clips:
            break
        if clip.genre in genres:
            continue
        genres.add(clip.genre)
        first = next(iter(PatchStream((FrontendConfig(),)).patches(str(clip.path))))[0]
        patches.append(first)
        names.append(clip.path.name)
    return np.stack(patches).astype(np.float32), names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/realmusic"))
    parser.add_argument("--clips", type=int, default=4, help="real clips to add (0: none)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    from mgc_model.musicnn import layer_flops
    from mgc_model.musicnn_vgg import load_vgg

    with np.load(REFERENCE) as data:
        inputs, names = data["inputs"], [str(n) for n in data["input_names"]]
    if args.clips and (args.corpus / "LABELS.csv").exists():
        real, real_names = real_patches(args.corpus, args.clips)
        inputs, names = np.concatenate([inputs, real]), names + real_names
    print(f"{len(inputs)} patches {inputs.shape[1:]}: {', '.join(names)}")

    failed = False
    for name in MODELS:
        want_tags, want_flat = run_original(musicnn_dir() / name, inputs)
        model = load_vgg(name)
        got = model.predict_on_batch(inputs)
        tag_diff = float(np.abs(np.asarray(got["tags"]) - want_tags).max())
        flat_diff = float(np.abs(np.asarray(got["penultimate"]) - want_flat).max())
        ok = max(tag_diff, flat_diff) <= args.tolerance
        failed |= not ok
        print(f"{name}: max |tags - TF1| {tag_diff:.2e}, max |flattened pool5 - TF1| "
              f"{flat_diff:.2e} (pool5 values up to {np.abs(want_flat).max():.1f}); "
              f"top tag index TF1 {want_tags.argmax(1).tolist()} port "
              f"{np.asarray(got['tags']).argmax(1).tolist()}; "
              f"{sum(layer_flops(model).values()) / 1e9:.3f} GFLOP/patch; "
              f"{'OK' if ok else 'MISMATCH'}")
    return int(failed)


if __name__ == "__main__":
    raise SystemExit(main())
