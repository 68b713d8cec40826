"""How the default model's networks become a distribution over FMA's 16 genres whose top
score is a confidence a user can act on, and the alternative that measurement rejected.

**The default** (``musicnn-yamnet``), per 3 s window, in three steps:

1. musicnn's 100 tags (MSD_musicnn and MTT_musicnn) -> ``genres.tags_to_genre_scores``, the
   documented tag table with its calibration by tag priors (unchanged from mgc 0.1);
2. gated by YAMNet: ``SPOKEN_WORD``, speech (Speech, Narration, Conversation, Speech
   synthesizer, Child speech) times one minus music (Music, Singing, Choir, Rapping, Song,
   Musical instrument), is the window's probability of being Spoken; the music genres share
   the rest (``spoken_gate``). Rap stays Hip-Hop (Rapping counts as music) and a singer over
   music is never Spoken.
3. Per track, after the pipeline's mean over windows: the music genres' share sharpened by
   ``TEMPERATURE`` (``sharpen``; the model's ``ModelInfo.track_temperature``), fitted for
   calibration. It keeps musicnn's order, so on music the default calls what mgc 0.1 called.

**The alternative**, a product of experts in which YAMNet's AudioSet genre classes
(``YAMNET_TO_GENRE``: Classical music, Opera, Hip hop music, Country, Reggae, ...) vote beside
musicnn's tags (``expert_evidence``, ``combine``), was measured by
``scripts/check_real_music.py`` for MSD, MSD+MTT, YAMNet, MSD+YAMNet and all three: with
priors and weights fitted leave-one-source-out, none of them called more of the corpus's
music clips right than musicnn's table alone (YAMNet's genre classes barely move on
MIDI renders and game scores; its instrument classes mislead there: a General MIDI piano
reads as Harpsichord). YAMNet's gain is that it tells speech from music, so that is all the
default takes from it. docs/model.md has the figures.

Bump ``MAPPING_VERSION`` whenever a table, a prior or a fitted number changes: it is part of
the model version written into every output row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mgc_model.genres import FMA_GENRES, TAG_TO_GENRE

__all__ = [
    "LIFT_EPS",
    "MAPPING_VERSION",
    "SPOKEN_WORD",
    "TEMPERATURE",
    "YAMNET_TO_GENRE",
    "combine",
    "expert_evidence",
    "genre_scores",
    "sharpen",
    "spoken_gate",
    "with_spoken_word",
]

MAPPING_VERSION = "2"
# Pseudo-count added to probability and prior alike, per source: YAMNet's genre classes sit
# an order of magnitude lower than musicnn's tags (AudioSet's 521 classes share the mass).
LIFT_EPS = {"MSD": 0.05, "MTT": 0.05, "YAMNet": 0.01}
SPOKEN_WORD = "(speech without music)"
_SPOKEN = FMA_GENRES.index("Spoken")

_SPEECH = ("Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue",
           "Speech synthesizer")
_MUSIC = ("Music", "Musical instrument", "Singing", "Choir", "Rapping", "Song")

_ROCK = ("Rock music", "Heavy metal", "Punk rock", "Grunge", "Progressive rock",
         "Rock and roll", "Psychedelic rock")
_ELECTRONIC = ("Electronic music", "House music", "Techno", "Dubstep", "Drum and bass",
               "Electronica", "Electronic dance music", "Trance music")
# FMA files the music of other continents, Latin, Reggae-Dub and Celtic under International.
_INTERNATIONAL = ("Middle Eastern music", "Music of Latin America", "Salsa music", "Flamenco",
                  "Music of Africa", "Afrobeat", "Music of Asia", "Carnatic music",
                  "Music of Bollywood", "Reggae")

# AudioSet class -> {genre: weight}. Classes not listed say nothing about FMA's genres:
# moods ('Happy music'), uses ('Video game music', 'Theme music', 'Background music': game
# scores come in every style), voice ('Singing', 'Vocal music') and instruments (see the
# module docstring; only the ensembles Orchestra, String section and Choir are kept). No
# class points at Experimental, Easy Listening or Old-Time / Historic: those come from the
# musicnn tags alone.
YAMNET_TO_GENRE: dict[str, dict[str, float]] = {
    **{name: {"Rock": 1.0} for name in _ROCK},
    **{name: {"Electronic": 1.0} for name in _ELECTRONIC},
    **{name: {"International": 1.0} for name in _INTERNATIONAL},
    "Pop music": {"Pop": 1.0},
    "Independent music": {"Rock": 0.5, "Pop": 0.5},  # indie rock and indie pop
    "Hip hop music": {"Hip-Hop": 1.0},
    "Rapping": {"Hip-Hop": 1.0},
    "Beatboxing": {"Hip-Hop": 0.5},
    "Scratching (performance technique)": {"Hip-Hop": 0.5},
    "Rhythm and blues": {"Soul-RnB": 1.0},
    "Soul music": {"Soul-RnB": 1.0},
    "Funk": {"Soul-RnB": 1.0},  # FMA's Funk is under Soul-RnB
    "Gospel music": {"Soul-RnB": 0.5},
    "Disco": {"Soul-RnB": 0.5, "Electronic": 0.5},
    "Ska": {"International": 0.5, "Rock": 0.5},
    "Country": {"Country": 1.0},
    "Bluegrass": {"Country": 1.0},  # FMA's Bluegrass is under Country
    "Jazz": {"Jazz": 1.0},
    "Swing music": {"Jazz": 1.0},  # FMA's Big Band/Swing is under Jazz
    "Blues": {"Blues": 1.0},
    "Folk music": {"Folk": 1.0},
    "Traditional music": {"Folk": 0.5, "International": 0.5},
    "Classical music": {"Classical": 1.0},
    "Opera": {"Classical": 1.0},  # FMA's Opera is under Classical
    "Orchestra": {"Classical": 0.5},
    "String section": {"Classical": 0.5},
    "Choir": {"Classical": 0.5},
    "Ambient music": {"Instrumental": 0.56, "Electronic": 0.44},  # as genres' 'ambient'
    "New-age music": {"Instrumental": 1.0},  # FMA's New Age is under Instrumental
    "Soundtrack music": {"Instrumental": 0.5},  # FMA's Soundtrack is under Instrumental
    SPOKEN_WORD: {"Spoken": 1.0},
}


def with_spoken_word(probs: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """YAMNet's (n, 521) probabilities with the derived ``SPOKEN_WORD`` column appended."""
    index = {name: i for i, name in enumerate(classes)}
    speech = probs[:, [index[c] for c in _SPEECH]].max(axis=1)
    music = probs[:, [index[c] for c in _MUSIC]].max(axis=1)
    return np.concatenate([probs, (speech * (1.0 - music))[:, None]], axis=1)


def class_table(source: str, classes: tuple[str, ...]) -> np.ndarray:
    """(n_classes, 16) weights of one source's classes (MSD, MTT or YAMNet)."""
    if source == "YAMNet":
        table = YAMNET_TO_GENRE
    else:
        table = {tag: targets for (model, tag), targets in TAG_TO_GENRE.items()
                 if model == source}
    weights = np.zeros((len(classes), len(FMA_GENRES)), np.float32)
    index = {name: i for i, name in enumerate(classes)}
    for name, targets in table.items():
        for genre, weight in targets.items():
            weights[index[name], FMA_GENRES.index(genre)] = weight
    return weights


EXPERTS = {"musicnn": ("MSD", "MTT"), "YAMNet": ("YAMNet",)}


def expert_of(source: str) -> str:
    return next(e for e, sources in EXPERTS.items() if source in sources)


def expert_evidence(probs: Mapping[str, np.ndarray], tables: Mapping[str, np.ndarray],
                    priors: Mapping[str, np.ndarray]) -> np.ndarray:
    """One expert's sources' (n, n_classes) probabilities -> (n, 16) genre evidence (steps 1
    and 2): the strongest weighted lift per genre, relative to the mean over covered genres;
    1 for the genres none of its classes points at."""
    n = next(iter(probs.values())).shape[0]
    strongest = np.zeros((n, len(FMA_GENRES)), np.float32)
    for source, p in probs.items():
        eps = LIFT_EPS[source]
        lift = (np.asarray(p, np.float32) + eps) / (priors[source] + eps)
        table = tables[source]
        for g in range(table.shape[1]):
            rows = np.flatnonzero(table[:, g])
            if rows.size:
                strongest[:, g] = np.maximum(strongest[:, g],
                                             (lift[:, rows] * table[rows, g]).max(axis=1))
    covered = np.flatnonzero(np.any([t.any(axis=0) for t in tables.values()], axis=0))
    evidence = np.ones_like(strongest)
    evidence[:, covered] = strongest[:, covered] / strongest[:, covered].mean(axis=1,
                                                                               keepdims=True)
    return evidence


def combine(evidence: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Per-expert (n, 16) evidence -> (n, 16) genre distribution (step 3)."""
    logits = sum(weights[e] * np.log(np.maximum(ev, 1e-6)) for e, ev in evidence.items())
    logits = logits - logits.max(axis=1, keepdims=True)
    scores = np.exp(logits)
    return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def genre_scores(probs: Mapping[str, np.ndarray], tables: Mapping[str, np.ndarray],
                 priors: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Per-source window probabilities -> (n, 16) genre distribution: steps 1 to 3."""
    evidence = {}
    for expert in {expert_of(s) for s in probs}:
        mine = [s for s in probs if expert_of(s) == expert]
        evidence[expert] = expert_evidence({s: probs[s] for s in mine},
                                           {s: tables[s] for s in mine},
                                           {s: priors[s] for s in mine})
    return combine(evidence, weights)


def spoken_gate(music: np.ndarray, spoken: np.ndarray) -> np.ndarray:
    """The default model's per-window step: musicnn's (n, 16) genre distribution shares its
    mass with Spoken by YAMNet's ``SPOKEN_WORD`` probability (n,): a window that is speech
    without music is Spoken, any other is music."""
    scores = np.asarray(music, np.float64) * (1.0 - np.clip(spoken, 0.0, 1.0))[:, None]
    scores[:, _SPOKEN] += np.clip(spoken, 0.0, 1.0)
    return scores.astype(np.float32)


def sharpen(track: np.ndarray, temperature: float) -> np.ndarray:
    """The default model's per-track step, after the mean over windows: the music genres'
    share raised to ``1 / temperature`` and renormalised within that share, Spoken's share
    kept. musicnn's mean distribution is far too flat to be a confidence (a top score of 0.2
    says nothing); this keeps its order and makes the top score mean what it says."""
    track = np.asarray(track, np.float64)
    spoken = track[_SPOKEN]
    music = np.delete(track, _SPOKEN)
    music = np.maximum(music, 1e-12) ** (1.0 / temperature)
    music *= (1.0 - spoken) / music.sum()
    return np.insert(music, _SPOKEN, spoken).astype(np.float32)


# Fitted by `scripts/check_real_music.py --fit` on the real-music corpus (198 clips, 13
# genres, 19 sources): the genre-balanced log-loss minimum.
TEMPERATURE = 0.506
