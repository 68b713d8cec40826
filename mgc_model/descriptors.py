"""Styles, moods, voice and instruments: what the default model computes for every window
besides the genre, kept instead of thrown away.

Each descriptor reads the outputs that name it: musicnn's MSD tags (``msd:``), its MagnaTagATune
tags (``mtt:``) and YAMNet's AudioSet classes (``audioset:``); its score in a window is the
highest of them (they are independent sigmoid outputs, not a distribution), and a track's is
the mean over its windows, as for the genre. A style sits under the FMA genre it belongs to.
What was measured of them, and what was not, is in docs/tagging.md ("Styles, moods, voice and
instruments"): most are unmeasured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

KINDS = ("styles", "moods", "voice", "instruments")
# A descriptor is listed for a track from this mean score, at most ``TOP`` per kind, best first.
THRESHOLD = 0.2
TOP = 3


class Descriptor(NamedTuple):
    kind: str  # one of KINDS
    name: str
    sources: tuple[str, ...]  # "msd:<tag>", "mtt:<tag>", "audioset:<class>"
    parent: str | None = None  # a style's FMA genre


def _styles(parent: str, *entries: tuple[str, tuple[str, ...]]) -> list[Descriptor]:
    return [Descriptor("styles", name, sources, parent) for name, sources in entries]


DESCRIPTORS: tuple[Descriptor, ...] = (
    *_styles("Rock",
             ("Hard Rock", ("msd:hard rock",)),
             ("Heavy Metal", ("msd:heavy metal", "mtt:metal", "audioset:Heavy metal")),
             ("Punk", ("msd:punk", "audioset:Punk rock")),
             ("Progressive Rock", ("msd:Progressive rock", "audioset:Progressive rock")),
             ("Alternative Rock", ("msd:alternative rock",)),
             ("Indie Rock", ("msd:indie rock",)),
             ("Classic Rock", ("msd:classic rock",)),
             ("Grunge", ("audioset:Grunge",)),
             ("Psychedelic Rock", ("audioset:Psychedelic rock",)),
             ("Rock and Roll", ("audioset:Rock and roll",))),
    *_styles("Electronic",
             ("House", ("msd:House", "audioset:House music")),
             ("Techno", ("mtt:techno", "audioset:Techno")),
             ("Trance", ("audioset:Trance music",)),
             ("Drum and Bass", ("audioset:Drum and bass",)),
             ("Dubstep", ("audioset:Dubstep",)),
             ("Electro", ("msd:electro",)),
             ("Disco", ("audioset:Disco",))),
    *_styles("Instrumental",
             ("Ambient", ("msd:ambient", "mtt:ambient", "audioset:Ambient music")),
             ("New Age", ("mtt:new age", "audioset:New-age music"))),
    *_styles("International",
             ("Reggae", ("audioset:Reggae",)),
             ("Ska", ("audioset:Ska",)),
             ("Latin", ("audioset:Music of Latin America",)),
             ("Salsa", ("audioset:Salsa music",)),
             ("Flamenco", ("audioset:Flamenco",)),
             ("Afrobeat", ("audioset:Afrobeat",)),
             ("Indian", ("mtt:indian", "mtt:sitar", "audioset:Carnatic music"))),
    *_styles("Country", ("Bluegrass", ("audioset:Bluegrass",))),
    *_styles("Jazz", ("Swing", ("audioset:Swing music",))),
    *_styles("Soul-RnB",
             ("Funk", ("msd:funk", "audioset:Funk")),
             ("Soul", ("msd:soul", "audioset:Soul music")),
             ("R&B", ("msd:rnb", "audioset:Rhythm and blues")),
             ("Gospel", ("audioset:Gospel music",))),
    *_styles("Classical", ("Opera", ("mtt:opera", "audioset:Opera"))),
    *_styles("Pop", ("Indie Pop", ("msd:indie pop",))),
    Descriptor("moods", "Happy", ("msd:happy", "audioset:Happy music")),
    Descriptor("moods", "Sad", ("msd:sad", "audioset:Sad music")),
    Descriptor("moods", "Mellow", ("msd:Mellow", "mtt:soft")),
    Descriptor("moods", "Chill", ("msd:chill", "msd:chillout")),
    Descriptor("moods", "Party", ("msd:party",)),
    Descriptor("moods", "Beautiful", ("msd:beautiful",)),
    Descriptor("moods", "Tender", ("audioset:Tender music",)),
    Descriptor("moods", "Exciting", ("audioset:Exciting music",)),
    Descriptor("moods", "Angry", ("audioset:Angry music",)),
    Descriptor("moods", "Scary", ("audioset:Scary music",)),
    Descriptor("moods", "Easy Listening", ("msd:easy listening",)),
    Descriptor("voice", "Female Vocal", ("msd:female vocalists", "msd:female vocalist",
                                         "mtt:female", "mtt:female vocal", "mtt:female voice",
                                         "mtt:woman")),
    Descriptor("voice", "Male Vocal", ("msd:male vocalists", "mtt:male", "mtt:male vocal",
                                       "mtt:male voice", "mtt:man")),
    Descriptor("voice", "Instrumental", ("msd:instrumental", "mtt:no vocals", "mtt:no vocal",
                                         "mtt:no voice")),
    Descriptor("voice", "Choir", ("mtt:choir", "mtt:choral", "audioset:Choir")),
    Descriptor("voice", "Rapping", ("audioset:Rapping",)),
    Descriptor("voice", "Speech", ("audioset:(speech without music)",)),
    Descriptor("instruments", "Piano", ("mtt:piano", "audioset:Piano")),
    Descriptor("instruments", "Guitar", ("mtt:guitar", "msd:guitar", "audioset:Guitar")),
    Descriptor("instruments", "Bass Guitar", ("audioset:Bass guitar",)),
    Descriptor("instruments", "Drums", ("mtt:drums", "audioset:Drum kit")),
    Descriptor("instruments", "Synthesizer", ("mtt:synth", "audioset:Synthesizer")),
    Descriptor("instruments", "Strings", ("mtt:strings", "audioset:Bowed string instrument")),
    Descriptor("instruments", "Violin", ("mtt:violin", "audioset:Violin, fiddle")),
    Descriptor("instruments", "Cello", ("mtt:cello", "audioset:Cello")),
    Descriptor("instruments", "Harp", ("mtt:harp", "audioset:Harp")),
    Descriptor("instruments", "Harpsichord", ("mtt:harpsichord", "audioset:Harpsichord")),
    Descriptor("instruments", "Organ", ("audioset:Organ",)),
    Descriptor("instruments", "Flute", ("mtt:flute", "audioset:Flute")),
    Descriptor("instruments", "Saxophone", ("audioset:Saxophone",)),
    Descriptor("instruments", "Trumpet", ("audioset:Trumpet",)),
    Descriptor("instruments", "Brass", ("audioset:Brass instrument",)),
    Descriptor("instruments", "Orchestra", ("audioset:Orchestra",)),
)
NAMES = tuple(f"{d.kind}:{d.name}" for d in DESCRIPTORS)
_BY_NAME = dict(zip(NAMES, DESCRIPTORS, strict=True))
FAMILIES = ("msd", "mtt", "audioset")


def _read(descriptor: Descriptor, families: Sequence[str]) -> list[str]:
    return [s for s in descriptor.sources if s.split(":", 1)[0] in families]


def names(families: Sequence[str] = FAMILIES) -> tuple[str, ...]:
    """The descriptors a model with only these output families can score (``--model fast``
    has musicnn's tags, not YAMNet's AudioSet classes)."""
    return tuple(n for n, d in _BY_NAME.items() if _read(d, families))


class Describer:
    """Per-window descriptor scores from the model's raw outputs, by index (built once)."""

    def __init__(self, msd: Sequence[str], mtt: Sequence[str],
                 audioset: Sequence[str] | None = None) -> None:
        """Without ``audioset``: only ``names(("msd", "mtt"))``, from musicnn's tags alone."""
        offsets = {"msd": (0, list(msd)), "mtt": (len(msd), list(mtt))}
        if audioset is not None:
            offsets["audioset"] = (len(msd) + len(mtt), list(audioset))
        self.columns = []
        for name in names(tuple(offsets)):
            indices = []
            for source in _read(_BY_NAME[name], tuple(offsets)):
                family, label = source.split(":", 1)
                start, labels = offsets[family]
                indices.append(start + labels.index(label))  # a wrong name fails at load
            self.columns.append(np.array(indices))

    def __call__(self, msd: np.ndarray, mtt: np.ndarray,
                 audioset: np.ndarray | None = None) -> np.ndarray:
        """(n, msd), (n, mtt), (n, audioset) probabilities -> (n, descriptors)."""
        outputs = np.concatenate([msd, mtt, *([] if audioset is None else [audioset])], axis=1)
        return np.stack([outputs[:, cols].max(axis=1) for cols in self.columns], axis=1)


def listed(names: Sequence[str], scores: np.ndarray | None) -> dict[str, list[dict]]:
    """A track's mean descriptor scores -> the tag row's columns: per kind, those scoring at
    least ``THRESHOLD``, best first, at most ``TOP`` (a style with its ``parent`` genre)."""
    columns: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    if scores is None or not len(names):
        return {kind: None for kind in KINDS}
    for name, score in sorted(zip(names, scores.tolist(), strict=True), key=lambda p: -p[1]):
        descriptor = _BY_NAME[name]
        entries = columns[descriptor.kind]
        if score >= THRESHOLD and len(entries) < TOP:
            entries.append({"name": descriptor.name, "score": score, "parent": descriptor.parent})
    return columns
