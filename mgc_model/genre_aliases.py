"""The genre names people's files carry, mapped onto FMA's 16 top-level genres.

A library's genre tags are spelt every way ('Hip Hop', 'hip-hop', 'HIPHOP', 'Rap'), use
sub-genres ('Shoegaze', 'Drum & Bass') and, in ID3, numbers (ID3v1's genre byte, ``(17)``
references of ID3v2). To compare them with mgc's answer, each name is turned into a *key*
(:func:`name_key`: accents, case, spacing and punctuation dropped, '&', '+' and 'n' between
words read as 'and', a trailing 'music' dropped), ID3 numbers into their names first, and the
key looked up in ``ALIASES``. A name the table does not know, whole or split at '/', ',', ';'
or '|', maps to nothing: the caller counts it apart rather than guessing.

Placements follow FMA's own taxonomy (``fma_metadata/genres.csv``) where it has the genre:
Metal, Punk, Industrial, Lo-Fi and Post-Rock are Rock; Techno, House, Dance, Trip-Hop and
Chill-out are Electronic; Ambient, New Age and Soundtrack are Instrumental; Funk and Gospel are
Soul-RnB; Reggae, Dub, Latin and Celtic are International; Opera and choral music are
Classical; Comedy and audiobooks are Spoken. ``ID3V1_UNMAPPED`` lists the ID3v1 names left out
on purpose: no single FMA genre fits them ('Other', 'Vocal', 'Ballad', 'Garage', 'Anime').

The hand table holds FMA's genres and the names that decide a placement; the rest comes from a
kept genre tree, beets' lastgenre tree (``data/genres-tree.yaml``, MIT, about 1,300 names from
'Highlife' to 'Symphonic'): each name in the tree takes the genre of the nearest name on its
path, itself first, that the hand table places, so 'Dark Ambient' under 'Ambient' is
Instrumental though 'Ambient' sits under 'Electronic' there. A name the tree holds in two
places that lead to different genres is left out, as is a tree root no FMA genre fits
('Kids Music').
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml
from mutagen.id3 import TCON

# The 192 names of the ID3v1 genre byte (80 of the standard, then Winamp's), by number.
ID3V1_GENRES: tuple[str, ...] = tuple(TCON.GENRES)

# FMA top-level genre (``mgc_model.genres.FMA_GENRES``, whose module imports TensorFlow, so
# not imported here) -> the names that mean it (any spelling: keys are normalised).
_TABLE: dict[str, tuple[str, ...]] = {
    "Blues": ("Blues", "Delta Blues", "Chicago Blues", "Electric Blues", "Blues Rock",
              "Country Blues", "Acoustic Blues"),
    "Classical": ("Classical", "Symphony", "Baroque", "Opera", "Chamber Music", "Sonata",
                  "Chorus", "Choral", "Choir", "Neoclassical", "Orchestral", "Orchestra",
                  "Contemporary Classical", "Modern Classical", "20th Century Classical",
                  "Romantic", "Renaissance", "Medieval", "Early Music", "Concerto",
                  "Classical Crossover", "Art Song", "Lieder", "Minimalism"),
    "Country": ("Country", "Bluegrass", "Country & Western", "Americana", "Honky Tonk",
                "Western Swing", "Alt-Country", "Country Pop", "Outlaw Country", "Western"),
    "Easy Listening": ("Easy Listening", "Lounge", "Exotica", "Muzak", "Beautiful Music",
                       "Elevator"),
    "Electronic": ("Electronic", "Electronica", "EDM", "Techno", "House", "Trance", "Dance",
                   "Disco", "Euro-Techno", "Trip-Hop", "Acid", "Acid House", "Techno-Industrial",
                   "Eurodance", "Jungle", "Rave", "Euro-House", "Goa", "Drum & Bass", "DnB",
                   "D&B", "Club", "Club-House", "Big Beat", "Breakbeat", "Breaks", "Chillout",
                   "Chill-out", "Downtempo", "EBM", "Electro", "Electroclash", "IDM", "Illbient",
                   "Leftfield", "Nu-Breakz", "Psytrance", "Psybient", "Dubstep", "Glitch",
                   "Chiptune", "Chip Music", "8-bit", "Ambient Electronic", "Deep House",
                   "Tech House", "Progressive House", "Minimal Techno", "Minimal",
                   "Hardstyle", "Synthwave", "Vaporwave", "Future Bass",
                   "Garage House", "UK Garage", "Electro House", "Wonky"),
    "Experimental": ("Experimental", "Noise", "Avantgarde", "Avant-Garde", "Musique Concrete",
                     "Electroacoustic", "Drone", "Sound Art", "Sound Collage", "Field Recordings",
                     "Improv", "Free Improvisation", "Unclassifiable", "Sound Poetry"),
    "Folk": ("Folk", "Acoustic", "Folk-Rock", "Folklore", "Singer-Songwriter", "Indie Folk",
             "Freak Folk", "Psych-Folk", "Contemporary Folk", "Anti-Folk", "British Folk"),
    "Hip-Hop": ("Hip-Hop", "Rap", "Gangsta Rap", "Christian Rap", "Christian Gangsta Rap",
                "G-Funk", "Booty Bass", "Trap", "Grime", "Boom Bap", "Alternative Hip-Hop",
                "Conscious Hip-Hop", "Underground Hip-Hop", "Nerdcore", "Lo-Fi Hip-Hop",
                "Hip-Hop Beats"),
    "Instrumental": ("Instrumental", "Soundtrack", "New Age", "Ambient", "Meditative", "Game",
                     "Trailer", "Film Score", "Score", "Video Game Music", "Video Game",
                     "Game Music", "Meditation", "Soundtracks", "OST", "VGM",
                     "Game Soundtrack", "Video Game Soundtrack", "Film Music",
                     "Movie Soundtrack", "Cinematic"),
    "International": ("International", "World Music", "World", "Ethnic", "Native American",
                      "Asian", "Caribbean and Latin American",
                      "Tribal", "Latin", "Celtic", "National Folk", "Reggae", "Dub", "Ska",
                      "Dance Hall", "Polka", "Tango", "Samba", "Merengue", "Salsa", "Bhangra",
                      "Global", "Chanson", "Bossa Nova", "Flamenco", "Fado", "Cumbia",
                      "Reggaeton", "Afrobeat", "African", "Klezmer", "Balkan", "Indian",
                      "Middle East", "Arabic", "Brazilian", "Latin Pop", "Worldbeat"),
    "Jazz": ("Jazz", "Jazz+Funk", "Fusion", "Fast-Fusion", "Acid Jazz", "Swing", "Bebop",
             "Big Band", "Jazz Fusion", "Smooth Jazz", "Free Jazz", "Cool Jazz", "Modern Jazz",
             "Latin Jazz", "Vocal Jazz", "Hard Bop", "Dixieland", "Ragtime", "Nu Jazz"),
    "Old-Time / Historic": ("Old-Time / Historic", "Old-Time", "Historic", "Oldies",
                            "78 rpm", "Pre-War", "Old Time"),
    "Pop": ("Pop", "Top 40", "Instrumental Pop", "Pop/Funk", "Pop-Folk", "JPop", "J-Pop",
            "K-Pop", "Synthpop", "Synth Pop", "New Romantic", "Contemporary Christian",
            "Indie Pop", "Dream Pop", "Teen Pop", "Europop", "Power Pop", "Chamber Pop",
            "Art Pop", "Adult Contemporary", "Schlager", "Electropop", "Dance Pop"),
    "Rock": ("Rock", "Classic Rock", "Grunge", "Metal", "Industrial", "Alternative",
             "Alternative Rock", "Alt. Rock", "Death Metal", "Punk", "Instrumental Rock",
             "Gothic", "Darkwave", "Southern Rock", "New Wave", "Psychedelic", "Lo-Fi",
             "Acid Punk", "Rock & Roll", "Hard Rock", "Gothic Rock", "Progressive Rock",
             "Psychedelic Rock", "Symphonic Rock", "Slow Rock", "Power Ballad", "Punk Rock",
             "Hardcore", "Indie", "BritPop", "Afro-Punk", "Polsk Punk", "Beat", "Heavy Metal",
             "Black Metal", "Christian Rock", "Thrash Metal", "Art Rock", "Emo",
             "Industro-Goth", "Jam Band", "Krautrock", "Math Rock", "Post-Punk", "Post-Rock",
             "Shoegaze", "Space Rock", "Trop Rock", "Neue Deutsche Welle", "Indie Rock",
             "Garage Rock", "Metalcore", "Nu Metal", "Progressive Metal", "Doom Metal",
             "Power Metal", "Stoner Rock", "Noise Rock", "Hardcore Punk", "Pop Punk",
             "Ska Punk", "Rockabilly", "Surf", "Surf Rock", "Glam Rock", "Progressive",
             "Prog Rock", "Post-Hardcore", "Screamo", "Grindcore", "Goth", "Alt Rock",
             "Thrash"),
    "Soul-RnB": ("Soul-RnB", "R&B", "RnB", "Rhythm & Blues", "Soul", "Funk", "Gospel",
                 "Slow Jam", "Rhythmic Soul", "Neo Soul", "Contemporary R&B", "Motown",
                 "Northern Soul", "Quiet Storm", "New Jack Swing", "Doo-Wop"),
    "Spoken": ("Spoken", "Spoken Word", "Speech", "Comedy", "Humour", "Humor", "Satire",
               "Pranks", "Audiobook", "Audio Book", "Audio Theatre", "Audio Theater",
               "Radio Drama", "Radio Play", "Podcast", "Poetry", "Talk Radio", "Talk",
               "Interview", "Lecture", "Stand-Up", "Stand-Up Comedy", "Audio Drama"),
}  # fmt: skip

# ID3v1 names that no single FMA top-level genre fits; they are counted as unknown names.
ID3V1_UNMAPPED: frozenset[str] = frozenset({
    "Other", "Vocal", "Sound Clip", "Bass", "Space", "Dream", "Cult", "Cabaret", "Showtunes",
    "Retro", "Musical", "Revival", "Primus", "Porn Groove", "Ballad", "Duet",
    "Drum Solo", "A Cappella", "Terror", "Crossover", "Anime", "Abstract", "Eclectic", "Garage",
})  # fmt: skip

_ID3_NUMBER = re.compile(r"^\s*\(?\s*(\d{1,3})\s*\)?\s*$")  # '17', '(17)'
_ID3_REFINED = re.compile(r"^\s*\((\d{1,3})\)\s*(\S.*)$")  # '(17)Rock': the text refines it
_AND = re.compile(r"(?<=\w)\s*(?:&|\+|['’]n['’]?|\s[nN]\s)\s*(?=\w)")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_PARTS = re.compile(r"\s*[/,;|]\s*")


def id3_name(name: str) -> str:
    """An ID3 numeric genre ('17', '(17)', '(17)Rock') as its name; other names unchanged."""
    refined = _ID3_REFINED.match(name)
    if refined:
        return refined.group(2).strip()
    number = _ID3_NUMBER.match(name)
    if number and int(number.group(1)) < len(ID3V1_GENRES):
        return ID3V1_GENRES[int(number.group(1))]
    return name


def name_key(name: str) -> str:
    """The spelling-free key of a genre name: 'Hip Hop', 'hip-hop' and 'HIPHOP' are one."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _AND.sub(" and ", text).casefold()
    key = _NOT_ALNUM.sub("", text)
    if key.endswith("music") and len(key) > len("music"):
        key = key.removesuffix("music")
    return key


def _build() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for genre, names in _TABLE.items():
        for name in (genre, *names):
            key = name_key(name)
            if aliases.setdefault(key, genre) != genre:
                raise ValueError(f"{name!r} is listed under {aliases[key]} and {genre}")
    return aliases


def _paths(node, above: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every name of the tree (nested lists of names and {name: children}) with its path."""
    if isinstance(node, list):
        for child in node:
            yield from _paths(child, above)
    elif isinstance(node, dict):
        for name, children in node.items():
            yield (*above, str(name))
            yield from _paths(children or [], (*above, str(name)))
    elif node is not None:
        yield (*above, str(node))


# Tree branches whose name the hand table places elsewhere: under 'electronic' the tree's
# 'hardcore' is gabber and its kin and 'progressive' is progressive house and trance, not rock.
_TREE_BRANCHES = {("electronic", "hardcore"): "Electronic",
                  ("electronic", "progressive"): "Electronic"}


def _from_tree(hand: dict[str, str], tree_file: Path) -> dict[str, str]:
    """name key -> FMA genre for the tree's names the hand table leaves out."""
    placed: dict[str, set[str]] = {}
    for path in _paths(yaml.safe_load(tree_file.read_text(encoding="utf-8"))):
        genre = next((_TREE_BRANCHES.get(path[:i]) or hand.get(name_key(path[i - 1]))
                      for i in range(len(path), 0, -1)
                      if path[:i] in _TREE_BRANCHES or name_key(path[i - 1]) in hand), None)
        if genre is not None:
            placed.setdefault(name_key(path[-1]), set()).add(genre)
    return {key: genres.pop() for key, genres in placed.items()
            if key not in hand and len(genres) == 1}


# name key -> FMA top-level genre
HAND_ALIASES: dict[str, str] = _build()
TREE_FILE = Path(__file__).with_name("data") / "genres-tree.yaml"
ALIASES: dict[str, str] = {**HAND_ALIASES, **_from_tree(HAND_ALIASES, TREE_FILE)}
GENRES: tuple[str, ...] = tuple(_TABLE)  # FMA's 16 top-level genres, in its order


def to_fma(name: str) -> str | None:
    """The FMA top-level genre a genre name means, or None when the table does not know it.

    A name unknown whole is split at '/', ',', ';' and '|' ('Rock/Pop'); the first part the
    table knows decides.
    """
    name = id3_name(name)
    genre = ALIASES.get(name_key(name))
    if genre is not None or not _PARTS.search(name):
        return genre
    return next((g for g in map(to_fma, _PARTS.split(name)) if g is not None), None)


def fma_genres(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(the FMA genres ``names`` mean, in order and without repeats; the names not known)."""
    known: list[str] = []
    unknown: list[str] = []
    for name in names:
        genre = to_fma(name)
        if genre is None:
            unknown.append(name)
        elif genre not in known:
            known.append(genre)
    return known, unknown
