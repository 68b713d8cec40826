"""FMA's 16 top-level genres, and how musicnn's 100 tags become a distribution over them.

musicnn ships two taggers: MSD_musicnn (50 Last.fm tags of the Million Song Dataset) and
MTT_musicnn (50 MagnaTagATune tags). Neither predicts FMA genres, so a patch's genre scores are
derived from its tags in three documented steps (:func:`tags_to_genre_scores`):

1. **Calibrate.** A sigmoid output is P(tag | audio) under the tag's frequency in the training
   set, so raw values are not comparable across tags: MSD's 'rock' or MTT's 'guitar' sit high on
   most music, 'country' or 'cello' rarely leave 0. Each tag is divided by its *prior*, its mean
   output over a genre-balanced set of music (``MSD_PRIOR``/``MTT_PRIOR``, the corpus below),
   giving a lift: how much more the tag fires here than on typical music. A pseudo-count
   ``LIFT_EPS`` is added to both sides so that a rare tag moving from 0.001 to 0.01 is not read
   as strong evidence.
2. **Map.** ``TAG_TO_GENRE`` says which tags are evidence for which genre and how strongly
   (weight 1: the tag names the genre or one of FMA's sub-genres of it; 0.5: a descriptor or
   instrument that mostly occurs in it; split weights follow FMA's own taxonomy). A genre's
   evidence is its strongest weighted tag lift (a max, not a sum: Rock has eleven tags and
   summing them called almost anything Rock).
3. **Normalise.** Evidence is divided by its total, per patch. A per-track distribution is the
   mean over its patches, which stays a distribution.

Genres no tag points at get nothing but what the normalisation leaves them: no tag of either
model indicates *Spoken*, so its score is always 0 (speech tends to come out Hip-Hop, whose MSD
tag reacts to talking over beats). *Old-Time / Historic* ('oldies', half weight) and *Easy
Listening* ('easy listening') hang on a single tag each and are rarely on top.

``scripts/check_real_music.py`` runs this on a labelled corpus (built by
``scripts/build_real_music_corpus.sh``: 79 clips of game soundtracks and MIDI renders in 13
genres) and, with ``--print-priors``, measured the priors below. There, a naive weighted *sum*
of raw tag probabilities scored 42/79 (balanced over genres 30%) and called 18 clips Rock (the
corpus has 11); taking the strongest tag per genre gave 46/79 (36%), and calibration 47/79
(43%), Rock called 11 times.
Orchestral and choral music comes out Classical (17/22); solo fiddle tunes do too (MTT hears a
violin), speech comes out Hip-Hop.

Bump ``MAPPING_VERSION`` whenever the table, the priors or the formula change: it is part of the
model version written into every output row.
"""

from __future__ import annotations

import numpy as np

from mgc_model.musicnn_checkpoints import MSD_LABELS, MTT_LABELS

__all__ = [
    "FMA_GENRES",
    "LIFT_EPS",
    "MAPPING_VERSION",
    "MSD_PRIOR",
    "MTT_PRIOR",
    "TAG_TO_GENRE",
    "tag_weight_matrix",
    "tags_to_genre_scores",
]

MAPPING_VERSION = "1"

# The top-level genres of the Free Music Archive dataset (fma_metadata/genres.csv), in order.
FMA_GENRES: list[str] = [
    "Blues", "Classical", "Country", "Easy Listening", "Electronic", "Experimental", "Folk",
    "Hip-Hop", "Instrumental", "International", "Jazz", "Old-Time / Historic", "Pop", "Rock",
    "Soul-RnB", "Spoken",
]  # fmt: skip

# (model, tag) -> {genre: weight}. Tags not listed say nothing about genre: eras ('80s'),
# moods ('sad', 'Mellow', 'beautiful'), voice ('female vocalists', 'male vocal', 'no vocals'),
# loudness/tempo ('loud', 'fast') and instruments found in every genre (guitar, piano, drums,
# synth, flute). Sub-genre placements are FMA's (genres.csv): Metal, Punk, Indie-Rock and
# Progressive are Rock; Techno, House, Dance, Chill-out and Ambient Electronic are Electronic;
# Ambient, New Age and Soundtrack are Instrumental; Funk is Soul-RnB; Indian, Celtic and Latin
# are International; Opera and Choral Music are Classical.
TAG_TO_GENRE: dict[tuple[str, str], dict[str, float]] = {
    # --- MSD_musicnn (Last.fm tags) ---
    ("MSD", "rock"): {"Rock": 1.0},
    ("MSD", "alternative"): {"Rock": 1.0},  # alternative rock
    ("MSD", "alternative rock"): {"Rock": 1.0},
    ("MSD", "classic rock"): {"Rock": 1.0},
    ("MSD", "indie rock"): {"Rock": 1.0},
    ("MSD", "hard rock"): {"Rock": 1.0},
    ("MSD", "Progressive rock"): {"Rock": 1.0},
    ("MSD", "punk"): {"Rock": 1.0},
    ("MSD", "metal"): {"Rock": 1.0},
    ("MSD", "heavy metal"): {"Rock": 1.0},
    ("MSD", "indie"): {"Rock": 0.5, "Pop": 0.5},  # a scene spanning indie rock and indie pop
    ("MSD", "pop"): {"Pop": 1.0},
    ("MSD", "indie pop"): {"Pop": 1.0},
    ("MSD", "electronic"): {"Electronic": 1.0},
    ("MSD", "electronica"): {"Electronic": 1.0},
    ("MSD", "electro"): {"Electronic": 1.0},
    ("MSD", "House"): {"Electronic": 1.0},
    ("MSD", "dance"): {"Electronic": 1.0},  # FMA's Dance is under Electronic
    ("MSD", "chillout"): {"Electronic": 1.0},  # FMA's Chill-out is under Electronic (House)
    # FMA has both Ambient (Instrumental, 7206 tracks) and Ambient Electronic (Electronic,
    # 5723): split by those counts.
    ("MSD", "ambient"): {"Instrumental": 0.56, "Electronic": 0.44},
    # Describes the absence of singing more than a genre; FMA's Instrumental is mostly
    # soundtrack, ambient and new-age music.
    ("MSD", "instrumental"): {"Instrumental": 0.5},
    ("MSD", "jazz"): {"Jazz": 1.0},
    ("MSD", "blues"): {"Blues": 1.0},
    ("MSD", "country"): {"Country": 1.0},
    ("MSD", "folk"): {"Folk": 1.0},
    # Acoustic singer-songwriter music, which FMA files under Folk; also used for unplugged pop.
    ("MSD", "acoustic"): {"Folk": 0.5},
    ("MSD", "Hip-Hop"): {"Hip-Hop": 1.0},
    ("MSD", "soul"): {"Soul-RnB": 1.0},
    ("MSD", "rnb"): {"Soul-RnB": 1.0},
    ("MSD", "funk"): {"Soul-RnB": 1.0},  # FMA's Funk is under Soul-RnB
    ("MSD", "easy listening"): {"Easy Listening": 1.0},
    ("MSD", "experimental"): {"Experimental": 1.0},
    # Last.fm's 'oldies' means 1950s-60s hits, FMA's Old-Time / Historic older recordings; it is
    # still the only tag pointing that way, hence a half weight.
    ("MSD", "oldies"): {"Old-Time / Historic": 0.5},
    # --- MTT_musicnn (MagnaTagATune tags; the clips come from Magnatune, a catalogue rich in
    # classical music, where string instruments and choirs almost always mean Classical) ---
    ("MTT", "classical"): {"Classical": 1.0},
    ("MTT", "classic"): {"Classical": 1.0},  # annotators' variant spelling of 'classical'
    ("MTT", "opera"): {"Classical": 1.0},
    ("MTT", "choir"): {"Classical": 1.0},
    ("MTT", "choral"): {"Classical": 1.0},
    ("MTT", "harpsichord"): {"Classical": 0.5},
    ("MTT", "strings"): {"Classical": 0.5},
    ("MTT", "violin"): {"Classical": 0.5},  # also the folk fiddle, hence half
    ("MTT", "cello"): {"Classical": 0.5},
    ("MTT", "harp"): {"Classical": 0.5},
    ("MTT", "techno"): {"Electronic": 1.0},
    ("MTT", "electronic"): {"Electronic": 1.0},
    ("MTT", "dance"): {"Electronic": 1.0},
    ("MTT", "ambient"): {"Instrumental": 0.56, "Electronic": 0.44},  # as MSD 'ambient'
    ("MTT", "new age"): {"Instrumental": 1.0},  # FMA's New Age is under Instrumental
    ("MTT", "rock"): {"Rock": 1.0},
    ("MTT", "metal"): {"Rock": 1.0},
    ("MTT", "pop"): {"Pop": 1.0},
    ("MTT", "country"): {"Country": 1.0},
    ("MTT", "indian"): {"International": 1.0},
    ("MTT", "sitar"): {"International": 0.5},
    ("MTT", "weird"): {"Experimental": 0.5},  # a listener's impression, often experimental
}

# Added to tag probability and prior alike (see step 1 of the module docstring).
LIFT_EPS = 0.05

# Mean sigmoid output per tag over the real-music corpus of
# scripts/build_real_music_corpus.sh, averaged per genre first so that no style dominates,
# measured with `scripts/check_real_music.py --print-priors` (79 clips, 13 genres).
MSD_PRIOR: dict[str, float] = {  # 13 genres, 79 tracks
    "rock": 0.0797, "pop": 0.0624, "alternative": 0.0432, "indie": 0.0723, "electronic": 0.1469,
    "female vocalists": 0.0470, "dance": 0.0359, "00s": 0.0119, "alternative rock": 0.0120,
    "jazz": 0.1167, "beautiful": 0.0179, "metal": 0.0310, "chillout": 0.0541,
    "male vocalists": 0.0087, "classic rock": 0.0163, "soul": 0.0251, "indie rock": 0.0172,
    "Mellow": 0.0174, "electronica": 0.0451, "80s": 0.0197, "folk": 0.0674, "90s": 0.0132,
    "chill": 0.0168, "instrumental": 0.0917, "punk": 0.0078, "oldies": 0.0208, "blues": 0.0303,
    "hard rock": 0.0065, "ambient": 0.0569, "acoustic": 0.0268, "experimental": 0.0348,
    "female vocalist": 0.0057, "guitar": 0.0199, "Hip-Hop": 0.0269, "70s": 0.0123, "party": 0.0044,
    "country": 0.0718, "easy listening": 0.0140, "sexy": 0.0040, "catchy": 0.0032, "funk": 0.0219,
    "electro": 0.0227, "heavy metal": 0.0090, "Progressive rock": 0.0234, "60s": 0.0129,
    "rnb": 0.0056, "indie pop": 0.0173, "sad": 0.0054, "House": 0.0168, "happy": 0.0040,
}  # fmt: skip
MTT_PRIOR: dict[str, float] = {  # 13 genres, 79 tracks
    "guitar": 0.3063, "classical": 0.0760, "slow": 0.1148, "techno": 0.1199, "strings": 0.0686,
    "drums": 0.0937, "electronic": 0.1103, "rock": 0.0582, "fast": 0.0836, "piano": 0.1117,
    "ambient": 0.0252, "beat": 0.0782, "violin": 0.0536, "vocal": 0.0363, "synth": 0.0795,
    "female": 0.0222, "indian": 0.0131, "opera": 0.0079, "male": 0.0290, "singing": 0.0242,
    "vocals": 0.0263, "no vocals": 0.0529, "harpsichord": 0.0115, "loud": 0.0219, "quiet": 0.0101,
    "flute": 0.0079, "woman": 0.0142, "male vocal": 0.0233, "no vocal": 0.0427, "pop": 0.0561,
    "soft": 0.0245, "sitar": 0.0062, "solo": 0.0230, "man": 0.0200, "classic": 0.0105,
    "choir": 0.0112, "voice": 0.0143, "new age": 0.0165, "dance": 0.0130, "male voice": 0.0172,
    "female vocal": 0.0109, "beats": 0.0206, "harp": 0.0072, "cello": 0.0048, "no voice": 0.0208,
    "weird": 0.0121, "country": 0.0506, "metal": 0.0164, "female voice": 0.0066, "choral": 0.0091,
}  # fmt: skip

def tag_weight_matrix() -> np.ndarray:
    """``TAG_TO_GENRE`` as a (100, 16) float32 matrix: MSD tags, then MTT tags, by label order."""
    labels = {"MSD": MSD_LABELS, "MTT": MTT_LABELS}
    offset = {"MSD": 0, "MTT": len(MSD_LABELS)}
    weights = np.zeros((len(MSD_LABELS) + len(MTT_LABELS), len(FMA_GENRES)), np.float32)
    for (model, tag), targets in TAG_TO_GENRE.items():
        row = offset[model] + labels[model].index(tag)
        for genre, weight in targets.items():
            weights[row, FMA_GENRES.index(genre)] = weight
    return weights


def _priors() -> np.ndarray:
    return np.array([MSD_PRIOR[t] for t in MSD_LABELS] + [MTT_PRIOR[t] for t in MTT_LABELS],
                    dtype=np.float32)


_WEIGHTS = tag_weight_matrix()
_PRIORS = _priors()
# Per genre: the rows (tags) that are evidence for it and their weights; empty for Spoken.
_GENRE_TAGS = [np.flatnonzero(_WEIGHTS[:, g]) for g in range(len(FMA_GENRES))]


def _check(name: str, tags: np.ndarray, n_labels: int) -> np.ndarray:
    tags = np.asarray(tags, dtype=np.float32)
    if tags.ndim != 2 or tags.shape[1] != n_labels:
        raise ValueError(f"{name} must have shape (n_patches, {n_labels}), got {tags.shape}")
    if not np.all(np.isfinite(tags)) or tags.min(initial=0) < 0 or tags.max(initial=0) > 1:
        raise ValueError(f"{name} must hold sigmoid probabilities in [0, 1]")
    return tags


def tags_to_genre_scores(msd_tags: np.ndarray, mtt_tags: np.ndarray, *,
                         priors: np.ndarray | None = None) -> np.ndarray:
    """Per-patch tag probabilities of both models -> (n, 16) genre distribution (float32).

    ``msd_tags`` is MSD_musicnn's output (n, 50) and ``mtt_tags`` MTT_musicnn's (n, 50), rows
    aligned patch by patch, columns in ``MSD_LABELS``/``MTT_LABELS`` order. Each row of the
    result is non-negative and sums to 1 over ``FMA_GENRES``; Spoken is always 0 (no tag
    indicates it). ``priors`` (100,), MSD's then MTT's, replaces ``MSD_PRIOR``/``MTT_PRIOR``:
    for measurement only (priors refitted without the clips scored, or ones for no calibration).
    """
    msd = _check("msd_tags", msd_tags, len(MSD_LABELS))
    mtt = _check("mtt_tags", mtt_tags, len(MTT_LABELS))
    if msd.shape[0] != mtt.shape[0]:
        raise ValueError(f"msd_tags has {msd.shape[0]} patches but mtt_tags {mtt.shape[0]}")
    tags = np.concatenate([msd, mtt], axis=1)
    priors = _PRIORS if priors is None else np.asarray(priors, np.float32)
    lift = (tags + LIFT_EPS) / (priors + LIFT_EPS)  # (n, 100), always > 0
    evidence = np.zeros((tags.shape[0], len(FMA_GENRES)), np.float32)
    for g, rows in enumerate(_GENRE_TAGS):
        if rows.size:  # genres without tags keep 0
            evidence[:, g] = (lift[:, rows] * _WEIGHTS[rows, g]).max(axis=1)
    return evidence / evidence.sum(axis=1, keepdims=True)
