"""What musicnn 0.1.0 ships, without TensorFlow: its tag vocabularies and the folders of its
pretrained checkpoints. Tagging needs only these (the networks run in onnxruntime), so a
start-up that does not train never imports TensorFlow."""

from __future__ import annotations

import importlib.util
import pathlib

# Tag vocabularies in output order (musicnn/configuration.py).
MTT_LABELS: list[str] = [
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
]  # fmt: skip

MSD_LABELS: list[str] = [
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
]  # fmt: skip

MODEL_NAMES: dict[str, list[str]] = {"MSD_musicnn": MSD_LABELS, "MTT_musicnn": MTT_LABELS}


def checkpoint_dir(name: str) -> pathlib.Path:
    """Folder of a pretrained musicnn checkpoint inside the installed musicnn package.

    Found with ``find_spec`` rather than an import: musicnn's modules import TF 1 APIs.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown musicnn model {name!r}; expected one of {sorted(MODEL_NAMES)}")
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the musicnn package (pretrained checkpoints) is not installed; run "
            "`pip install --no-deps musicnn==0.1.0` (--no-deps: its metadata pins TF 1)"
        )
    for location in spec.submodule_search_locations:
        folder = pathlib.Path(location) / name
        if (folder / ".index").is_file():
            return folder
    raise FileNotFoundError(
        f"musicnn is installed but has no checkpoint {name}/.index; reinstall it with "
        "`pip install --no-deps --force-reinstall musicnn==0.1.0`"
    )
