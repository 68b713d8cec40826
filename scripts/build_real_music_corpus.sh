#!/usr/bin/env bash
# Build the real-music check corpus used by scripts/check_real_music.py.
#
# Why: the genre mapping (mgc_model/genres.py) must be judged on real audio of known style, not
# only on synthetic tag vectors. Debian ships free game soundtracks (orchestral, metal,
# electronic, world-styled recordings), real speech (Asterisk's telephone prompts in five
# languages), two speech synthesisers, and everything needed to render MIDI with a General MIDI
# soundfont (MMA style grooves, public-domain scores from music21's corpus), so a new developer
# can rebuild the same corpus from package registries alone; MMA is seeded and sox does not
# dither, so rebuilds are byte-identical. The corpus stays out of the repository (~200 clips in
# 13 genres, ~160 MB, mixed licences): it lands in OUT (default /work/realmusic) as
# OUT/<FMA genre>/<clip>.flac, 30 s, 22.05 kHz mono, peak-normalised to -1 dBFS, with
# OUT/LABELS.csv (path, genre, source, reason, confidence, licence).
#
# Labels come from each source's own information (embedded tags, album and track titles,
# credits, package descriptions, the name of the MMA groove), never from a model; `reason`
# says which, `confidence` how far it goes. `source` names the package (or package and
# sub-collection): clips of one work or artist share it, for leave-one-source-out checks.
# Game music filed as Instrumental rests on FMA filing Soundtrack under Instrumental.
#
# Idempotent: existing clips are kept (FORCE=1 rebuilds them); LABELS.csv is rewritten.
# Needs root (or sudo) for apt-get; about 1.9 GB of Debian packages (plus one .deb fetched
# with apt-get download and a music21 venv of ~330 MB in OUT); ~6 min on 2 cores once they
# are installed, ~10 min from scratch; a rerun with nothing to do takes seconds.
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
TOOLS=(sox libsox-fmt-base fluidsynth fluid-soundfont-gm mma opus-tools unzip espeak-ng espeak
       python3-venv)
DATA=(wesnoth-1.16-music fretsonfire-songs-muldjord fretsonfire-songs-sectoid nexuiz-music
      supertuxkart-data freedroidrpg-data warzone2100-music colobot-common-sounds
      hyperrogue-music hedgewars-data pushover-data asterisk-core-sounds-en-wav
      asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav
      asterisk-core-sounds-ru-wav)
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
for t in the_dangerous_symphony:30 loyalists:30 elvish-theme:30 the_king_is_dead:30; do
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

# More SuperTuxKart tracks, labelled from their embedded tags (valley: genre=Electronic;
# klabauter_dance: genre=Soundtrack) or their title in STK's own .music file.
clip Electronic stk-valley "$STK/valley.ogg" 30 supertuxkart-data \
    "SuperTuxKart 'White Valley' by DJ Helium: embedded tag genre=Electronic" high CC-BY-SA-3.0
clip Electronic stk-garden "$STK/garden.ogg" 30 supertuxkart-data \
    "SuperTuxKart 'Zen Garden' by DJ Helium (same artist as 'White Valley', tagged Electronic; FL Studio)" \
    low CC-BY-SA-3.0
clip Instrumental stk-klabauter_dance "$STK/klabauter_dance.ogg" 10 supertuxkart-data \
    "SuperTuxKart 'Klabauter Dance' by Chris Leutwyler: embedded tag genre=Soundtrack (FMA files Soundtrack under Instrumental)" \
    medium GPL-2+
clip International stk-egypt "$STK/egypt.ogg" 20 supertuxkart-data \
    "SuperTuxKart track titled 'Egypt' (0zone0ne) for the desert-temple race track: Middle-Eastern style by title only" \
    low CC-BY-SA-3.0

# Nexuiz: more of the same soundtrack.
for t in chaos-fog infight ninesix; do
    src="$WORK/nexuiz-$t.ogg"
    [ -s "$src" ] || unzip -p "$PK3" "sound/cdtracks/$t.ogg" > "$src"
    clip Electronic "nexuiz-$t" "$src" 40 nexuiz-music \
        "Nexuiz soundtrack: synthesizer/drum-machine electronic (techno, industrial) tracks" \
        medium GPL-2+
done

# Warzone 2100 ships Opus files, which this sox cannot read: opusdec decodes just the part needed.
# opus_clip GENRE NAME SRC START SOURCE REASON CONFIDENCE LICENCE
opus_clip() {
    local wav="$WORK/$2.wav"
    if want "$OUT/$1/$2.flac"; then
        opusdec --quiet --float --rate 48000 --force-stereo "$3" - 2>/dev/null \
            | sox -V1 -t raw -e floating-point -b 32 -r 48000 -c 2 - -b 16 -D "$wav" \
                trim "$4" $((CLIP_SECONDS + 1)) || true  # sox closes the pipe early: fine
    fi
    clip "$1" "$2" "$wav" 0 "$5" "$6" "$7" "$8"
    rm -f "$wav"
}
WZ=/usr/share/games/warzone2100/music/albums
WZ_WHY="Warzone 2100 music, shipped as albums titled"
opus_clip Instrumental wz-original-track1 "$WZ/original_soundtrack/track1.opus" 60 \
    warzone2100-music "$WZ_WHY 'Original Soundtrack' (FMA files Soundtrack under Instrumental)" \
    medium GPL-2+
opus_clip Instrumental wz-original-track2 "$WZ/original_soundtrack/track2.opus" 60 \
    warzone2100-music "$WZ_WHY 'Original Soundtrack' (FMA files Soundtrack under Instrumental)" \
    medium GPL-2+
for t in legacy_soundtrack/track4 legacy_soundtrack/track9 aftermath_soundtrack/track17 \
         aftermath_soundtrack/track21; do
    opus_clip Instrumental "wz-${t%%_*}-${t##*/}" "$WZ/$t.opus" 90 warzone2100-music \
        "$WZ_WHY '${t%%_*} Soundtrack' by LupusMechanicus (FMA files Soundtrack under Instrumental)" \
        medium "CC-BY-SA-3.0 or GPL-2+"
done

# Colobot: album tag "CoLoBoT - Original Soundtrack" (Daniel Roux) and "Colobot: Gold Edition"
# (Emxx52); one track's own title says jazz.
CB=/usr/share/games/colobot/music
for t in music002:30 music003:30 music007:30 music009:30; do
    clip Instrumental "colobot-${t%%:*}" "$CB/${t%%:*}.ogg" "${t##*:}" colobot-common-sounds \
        "Colobot music by Daniel Roux, embedded tag album='CoLoBoT - Original Soundtrack' (FMA files Soundtrack under Instrumental)" \
        medium GPL-3+
done
clip Instrumental colobot-prototype "$CB/Prototype.ogg" 60 colobot-common-sounds \
    "Colobot game music by Emxx52, embedded tag album='Colobot: Gold Edition' (game soundtrack; FMA files Soundtrack under Instrumental)" \
    low GPL-3+
clip Jazz colobot-jazz_buzzing "$CB/music013.ogg" 30 colobot-common-sounds \
    "Colobot soundtrack (Daniel Roux): embedded title 'Jazz Buzzing EasterEgg'" medium GPL-3+

# HyperRogue: "in-game music" (package description), embedded tag genre=Game.
HR=/usr/share/hyperrogue/music
for t in hr3-caves:10 hr3-graveyard:20 hr3-rlyeh:20 hr-domina-hunting:10 hr-domina-mountain:10 \
         hr-savino-ivory:10; do
    clip Instrumental "hyperrogue-${t%%:*}" "$HR/${t%%:*}.ogg" "${t##*:}" hyperrogue-music \
        "HyperRogue in-game music (embedded/package: genre 'Game', game soundtrack; FMA files Soundtrack under Instrumental)" \
        low CC-BY-SA-3.0
done
clip International hyperrogue-savino-caribbean "$HR/hr-savino-caribbean.ogg" 10 \
    hyperrogue-music "HyperRogue music by Will Savino, embedded title 'Caribbean' (Caribbean style by title only)" \
    low CC-BY-SA-3.0

# Hedgewars: one track is tagged album='Hedgewars Soundtrack'; the others are the same game's
# level music; 'oriental' names its style.
HW=/usr/share/games/hedgewars/Data/Music
clip Instrumental hedgewars-nature "$HW/Nature.ogg" 20 hedgewars-data \
    "Hedgewars music by Tiyuri, embedded tag album='Hedgewars Soundtrack' (FMA files Soundtrack under Instrumental)" \
    medium GPL-2
for t in Castle snow underwater; do
    clip Instrumental "hedgewars-$t" "$HW/$t.ogg" 30 hedgewars-data \
        "Hedgewars level music (game soundtrack; FMA files Soundtrack under Instrumental)" low GPL-2
done
clip International hedgewars-oriental "$HW/oriental.ogg" 30 hedgewars-data \
    "Hedgewars level music titled 'oriental' (Asian style by title only)" low GPL-2

# Pushover: one tune per level theme, named after the culture it imitates.
PO=/usr/share/pushover/themes
for t in japanese:30 greek:20 aztec:30; do
    clip International "pushover-${t%%:*}" "$PO/${t%%:*}.ogg" "${t##*:}" pushover-data \
        "Pushover music for its '${t%%:*}' level theme (style of that culture by title only)" \
        low GPL-3+
done

# Performous (karaoke game) ships one cut of a real song with vocals as its menu music; the
# package itself is a program with many libraries, so only that file is taken from its .deb.
# deb_member PKG PATH DEST: extract one file of a Debian package without installing it.
deb_member() {
    if [ -s "$3" ]; then return 0; fi
    local dir="$WORK/debs"
    mkdir -p "$dir"
    ls "$dir/$1"_*.deb >/dev/null 2>&1 || (cd "$dir" && apt-get download -qq "$1")
    dpkg-deb --fsys-tarfile "$(ls "$dir/$1"_*.deb | head -1)" | tar -xO "./$2" > "$3.tmp"
    mv "$3.tmp" "$3"
}
deb_member performous usr/share/games/performous/themes/default/menu.ogg \
    "$WORK/performous-menu.ogg"
clip Pop performous-tryad-final_rewind "$WORK/performous-menu.ogg" 20 "performous (Tryad)" \
    "song 'The Final Rewind' by Tryad, embedded tags credit 'vocals & lyrics'; a sung electronic pop song (genre not tagged)" \
    low "GPL-2+ (per the performous package)"

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
mma_clip Jazz mma-nitejazz NiteJazz 60 4 "$II_V" "slow jazz trio groove over ii-V changes" high
mma_clip Jazz mma-mellowjazz MellowJazz 64 4 "$RHYTHM" "slow jazz groove over jazz changes" high
mma_clip Jazz mma-dixie Dixie 180 4 "$RHYTHM" "dixieland jazz groove over jazz changes" high
mma_clip Jazz mma-gypsyjazz GypsyJazz 200 4 "$II_V" "gypsy-jazz (manouche) groove over ii-V changes" high
mma_clip Jazz mma-easyswing EasySwing 120 4 "$II_V" "$J (easy swing)" high

B="blues groove over a 12-bar blues"
mma_clip Blues mma-blues Blues 110 4 "$BLUES12" "$B (shuffle)" high
mma_clip Blues mma-slowblues SlowBlues 60 4 "$BLUES_E" "$B (slow 12/8 feel)" high
mma_clip Blues mma-boogiewoogie BoggieWoggie 150 4 "$BLUES12" "$B (boogie-woogie piano)" high
mma_clip Blues mma-countryblues CountryBlues 100 4 "$BLUES_E" "$B (acoustic country blues)" high
mma_clip Blues mma-fastblues FastBlues 160 4 "$BLUES12" "$B (fast)" high
mma_clip Blues mma-blues128 Blues128 70 4 "$BLUES_E" "$B (12/8 feel)" high
mma_clip Blues mma-shuffleboogie ShuffleBoggie 130 4 "$BLUES12" "$B (shuffle boogie)" high
mma_clip Blues mma-zoom-blues BLUS01 110 4 "$BLUES_E" "$B (Zoom 'blues' pattern)" high
mma_clip Blues mma-blues68 Blues68 80 4 "$BLUES12" "$B (6/8 feel)" high
mma_clip Blues mma-casio-shuffleboogie ShuffleBoogie 120 4 "$BLUES_E" "$B (Casio 'Shuffle Boogie')" high

C="country style groove (steel/acoustic guitar, two-beat bass) over I-IV-V"
mma_clip Country mma-bluegrass BlueGrass 200 4 "$COUNTRY" "bluegrass groove (banjo, fiddle) over I-IV-V" high
mma_clip Country mma-countryswing CountrySwing 160 4 "$COUNTRY" "$C" high
mma_clip Country mma-countrywaltz CountryWaltz 140 3 "$COUNTRY" "$C (waltz)" high
mma_clip Country mma-westernswing WesternSwing 180 4 "$COUNTRY" "western-swing groove over I-IV-V" high
mma_clip Country mma-slowcountry SlowCountry 90 4 "$COUNTRY" "$C (slow)" high
mma_clip Country mma-yamaha-western WesternMainA 120 4 "$COUNTRY" "$C (Yamaha 'Western' style)" high
mma_clip Country mma-zoom-country CNTR01 130 4 "$COUNTRY" "$C (Zoom 'country' pattern)" high
mma_clip Country mma-zoom-cntry CNTRY 120 4 "$COUNTRY" "$C (Zoom 'cntry' pattern)" high
mma_clip Country mma-zoom-country2 CNTR02 140 4 "$COUNTRY" "$C (Zoom 'country' pattern 2)" high
mma_clip Country mma-zoom-country3 CNTR03 110 4 "$COUNTRY" "$C (Zoom 'country' pattern 3)" high

F="acoustic folk accompaniment groove (strummed guitar) over a diatonic folk progression"
mma_clip Folk mma-folk Folk 110 4 "$FOLKP" "$F" medium
mma_clip Folk mma-folkballad FolkBalladPlus 90 4 "$FOLKP" "$F (ballad)" medium
mma_clip Folk mma-bluefolk BlueFolk 100 4 "$FOLKP" "$F (blue-folk)" medium

P="pop accompaniment groove over I-V-vi-IV"
mma_clip Pop mma-pop Pop 116 4 "$POP" "$P (Casio 'Pop' style)" medium
mma_clip Pop mma-80spop 80sPop 120 4 "$POP" "$P (Casio '80s Pop' style)" medium
mma_clip Pop mma-popballad PopBalladPlus 76 4 "$POP" "$P (ballad)" medium
mma_clip Pop mma-dancepop DancePop1 124 4 "$POP" "$P (Casio 'Dance Pop' style)" medium
mma_clip Pop mma-8beatpop 8BeatPop1 112 4 "$POP" "$P (Casio '8 Beat Pop' style)" medium
mma_clip Pop mma-electricpop ElectricPop 120 4 "$POP" "$P (Casio 'Electric Pop' style)" medium
mma_clip Pop mma-60spop 60sPop 126 4 "$POP" "$P (Casio '60s Pop' style)" medium
mma_clip Pop mma-zoom-pop POP01 118 4 "$POP" "$P (Zoom 'pop' pattern)" medium
mma_clip Pop mma-zoom-pop2 POP02 104 4 "$POP" "$P (Zoom 'pop' pattern 2)" medium

R="rock groove (drum kit, overdriven guitars) over a rock progression"
mma_clip Rock mma-60srock 60sRockPlus 140 4 "$ROCK" "$R" medium
mma_clip Rock mma-heavymetal HeavyMetal 150 4 "$ROCK" "$R (Casio 'Heavy Metal' style)" medium
mma_clip Rock mma-metal metal1A 160 4 "$ROCK" "$R (metal groove)" medium
mma_clip Rock mma-softrock SoftRock 110 4 "$ROCK" "$R (soft rock)" medium
mma_clip Rock mma-basicrock BasicRock 130 4 "$ROCK" "$R" medium
mma_clip Rock mma-zoom-punk PUNK01 180 4 "$ROCK" "$R (Zoom 'punk' pattern; FMA files Punk under Rock)" medium
mma_clip Rock mma-50srock 50sRock 160 4 "$COUNTRY" "1950s rock-and-roll groove over I-IV-V" medium
mma_clip Rock mma-zoom-rock ROCK01 130 4 "$ROCK" "$R (Zoom 'rock' pattern)" medium

S="rhythm-and-blues / soul accompaniment groove over soul changes"
mma_clip Soul-RnB mma-rnb "R&BPlus" 96 4 "$SOUL" "$S" medium
mma_clip Soul-RnB mma-dsoul DSoulPlus 100 4 "$SOUL" "$S" medium
mma_clip Soul-RnB mma-mellowrb MellowRB 84 4 "$SOUL" "$S (Casio 'Mellow R&B')" medium
mma_clip Soul-RnB mma-soul Soul 100 4 "$SOUL" "$S (Casio 'Soul' style)" medium
mma_clip Soul-RnB mma-60ssoul 60sSoul 110 4 "$SOUL" "$S (Casio '60s Soul' style)" medium
mma_clip Soul-RnB mma-rnb-ballad "R&B-Ballad" 70 4 "$SOUL" "$S (ballad)" medium
mma_clip Soul-RnB mma-funk Funk1 104 4 "$SOUL" "funk groove (FMA files Funk under Soul-RnB)" medium
mma_clip Soul-RnB mma-bvfunk BVFunk 100 4 "$SOUL" "funk groove with horns (FMA files Funk under Soul-RnB)" medium
mma_clip Soul-RnB mma-zoom-rnb RnB01 96 4 "$SOUL" "$S (Zoom 'rnb' pattern)" medium
mma_clip Soul-RnB mma-zoom-funk FUNK01 100 4 "$SOUL" "funk groove, Zoom 'funk' pattern (FMA files Funk under Soul-RnB)" medium

H="hip-hop beat (programmed drums, bass, keys; no rap vocal)"
mma_clip Hip-Hop mma-hiphop HipHopPlus1 90 4 "$HIPHOP" "$H" low
mma_clip Hip-Hop mma-casio-hiphop Hip-Hop 92 4 "$HIPHOP" "$H (Casio 'Hip-Hop' style)" low
mma_clip Hip-Hop mma-zoom-hiphop1 HIP01 88 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 1)" low
mma_clip Hip-Hop mma-zoom-hiphop2 HIP02 90 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 2)" low
mma_clip Hip-Hop mma-zoom-hiphop3 HIP03 92 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 3)" low
mma_clip Hip-Hop mma-zoom-hiphop4 HIP04 94 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 4)" low
mma_clip Hip-Hop mma-zoom-hiphop5 HIP05 86 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 5)" low
mma_clip Hip-Hop mma-zoom-hiphop6 HIP06 96 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 6)" low
mma_clip Hip-Hop mma-zoom-hiphop7 HIP07 84 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 7)" low
mma_clip Hip-Hop mma-zoom-hiphop8 HIP08 98 4 "$HIPHOP" "$H (Zoom 'hiphop' pattern 8)" low

E="electronic dance groove (drum machine, synth bass and pads)"
mma_clip Electronic mma-house House 124 4 "$MINOR" "$E (Casio 'House' style)" medium
mma_clip Electronic mma-techno Techno 132 4 "$MINOR" "$E (Casio 'Techno' style)" medium
mma_clip Electronic mma-trance Trance1 136 4 "$MINOR" "$E (trance groove)" medium
mma_clip Electronic mma-rave Rave 140 4 "$MINOR" "$E (Casio 'Rave' style)" medium
mma_clip Electronic mma-triphop TripHop 84 4 "$MINOR" "$E (Casio 'Trip Hop' style; FMA files Trip-Hop under Electronic)" medium
mma_clip Electronic mma-zoom-dnb DNB01 170 4 "$MINOR" "$E (Zoom 'drum and bass' pattern)" medium

I="Latin dance groove (FMA files Latin America under International)"
mma_clip International mma-salsa Salsa 180 4 "$MINOR" "$I (salsa)" low
mma_clip International mma-samba Samba 100 4 "$POP" "$I (samba)" low
mma_clip International mma-merengue Merengue 130 4 "$POP" "$I (merengue)" low
mma_clip International mma-tango Tango 120 4 "$MINOR" "Argentine tango groove (FMA files Latin America under International)" low
mma_clip International mma-bossanova BossaNova 130 4 "$POP" "$I (bossa nova)" low
mma_clip International mma-calypso Calypso 120 4 "$POP" "Caribbean calypso groove (FMA files Caribbean under International)" low
mma_clip International mma-zoom-reggae REGG01 76 4 "$POP" "reggae groove (FMA files Reggae - Dub under International)" low
mma_clip International mma-zoom-reggae2 REGG02 80 4 "$MINOR" "reggae groove (FMA files Reggae - Dub under International)" low

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
m21_clip Classical m21-beethoven-op59no1-1 beethoven/opus59no1/movement1.mxl 0 40,40,41,42 0 \
    "Beethoven $Q" high
m21_clip Classical m21-haydn-op1no1-1 haydn/opus1no1/movement1.mxl 0 40,40,41,42 0 "Haydn $Q" high
m21_clip Classical m21-mozart-k156-1 mozart/k156/movement1.mxl 0 40,40,41,42 0 "Mozart $Q" high

W="fiddle dance tune from Ryan's Mammoth Collection (1883), played on solo fiddle"
m21_clip Folk m21-devils-dream-reel ryansMammoth/DevilsDreamReel.abc 0 110 220 "$W (reel)" high
m21_clip Folk m21-rakes-of-kildare-jig ryansMammoth/RakesOfKildareJig.abc 0 110 180 "$W (jig)" \
    high
m21_clip Folk m21-fishers-hornpipe ryansMammoth/FishersHornpipe.abc 0 110 170 "$W (hornpipe)" \
    high
m21_clip Folk m21-soldiers-joy ryansMammoth/SoldiersJoy.abc 0 110 200 "$W (reel)" high
m21_clip Folk m21-college-hornpipe ryansMammoth/CollegeHornpipe.abc 0 110 170 "$W (hornpipe)" \
    high
m21_clip Folk m21-arkansas-traveller ryansMammoth/ArkansasTravellerReel.abc 0 110 200 \
    "$W (reel)" high
m21_clip Folk m21-all-the-way-to-galway ryansMammoth/AllTheWayToGalwayReel.abc 0 110 200 \
    "$W (reel)" high
m21_clip Folk m21-acrobats-hornpipe ryansMammoth/AcrobatsHornpipe.abc 0 110 170 \
    "$W (hornpipe)" high
m21_clip Folk m21-7th-regiment-reel ryansMammoth/7thRegimentReel.abc 0 110 200 "$W (reel)" high

# --- speech -----------------------------------------------------------------------------------
speak() {  # speak NAME VOICE TEXT [ENGINE [WHAT]]: ENGINE espeak-ng (default) or espeak
    local rel="Spoken/$1.flac" wav="$WORK/$1.wav" engine=${4:-espeak-ng}
    mkdir -p "$OUT/Spoken"
    if want "$OUT/$rel"; then
        "$engine" -v "$2" -s 150 -w "$wav" "$3"
        sox -V1 "$wav" -D -c 1 "$OUT/$rel" rate -v 22050 gain -n -1 trim 0 "$CLIP_SECONDS"
        rm -f "$wav"
    fi
    label "$rel" Spoken "$engine" "synthetic speech reading ${5:-public-domain text}, no music" \
        high "public-domain text; $engine output"
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

speak espeak-candle-lecture en-us+m3 "I purpose, in return for the honour you do us by \
coming to see what are our proceedings here, to bring before you, in the course of these \
lectures, the Chemical History of a Candle. I have taken this subject on a former occasion; and \
were it left to my own will, I should prefer to repeat it almost every year, so abundant is the \
interest that attaches itself to the subject, so wonderful are the varieties of outlet which it \
offers into the various departments of philosophy. There is not a law under which any part of \
this universe is governed which does not come into play, and is touched upon in these \
phenomena." espeak-ng \
    "the opening of Faraday's lecture 'The Chemical History of a Candle' (1861)"
speak espeak-sonnet18 en-gb+f2 "Shall I compare thee to a summer's day? Thou art more lovely \
and more temperate. Rough winds do shake the darling buds of May, and summer's lease hath all \
too short a date. Sometime too hot the eye of heaven shines, and often is his gold complexion \
dimmed; and every fair from fair sometime declines, by chance, or nature's changing course, \
untrimmed. But thy eternal summer shall not fade, nor lose possession of that fair thou owest, \
nor shall death brag thou wanderest in his shade, when in eternal lines to time thou growest. \
So long as men can breathe, or eyes can see, so long lives this, and this gives life to thee." \
    espeak-ng "Shakespeare's Sonnet 18 (poetry)"
speak espeak-de-erlkoenig de "Wer reitet so spät durch Nacht und Wind? Es ist der Vater mit \
seinem Kind; er hat den Knaben wohl in dem Arm, er faßt ihn sicher, er hält ihn warm. Mein Sohn, \
was birgst du so bang dein Gesicht? Siehst, Vater, du den Erlkönig nicht? Den Erlenkönig mit \
Kron und Schweif? Mein Sohn, es ist ein Nebelstreif. Du liebes Kind, komm, geh mit mir! Gar \
schöne Spiele spiel ich mit dir; manch bunte Blumen sind an dem Strand, meine Mutter hat manch \
gülden Gewand. Mein Vater, mein Vater, und hörest du nicht, was Erlenkönig mir leise verspricht? \
Sei ruhig, bleibe ruhig, mein Kind; in dürren Blättern säuselt der Wind." espeak-ng \
    "Goethe's poem 'Erlkönig' in German (poetry)"
speak espeak-fr-hugo fr "Demain, dès l'aube, à l'heure où blanchit la campagne, je partirai. \
Vois-tu, je sais que tu m'attends. J'irai par la forêt, j'irai par la montagne. Je ne puis \
demeurer loin de toi plus longtemps. Je marcherai les yeux fixés sur mes pensées, sans rien voir \
au dehors, sans entendre aucun bruit, seul, inconnu, le dos courbé, les mains croisées, triste, \
et le jour pour moi sera comme la nuit. Je ne regarderai ni l'or du soir qui tombe, ni les voiles \
au loin descendant vers Harfleur, et quand j'arriverai, je mettrai sur ta tombe un bouquet de \
houx vert et de bruyère en fleur." espeak-ng "Victor Hugo's poem 'Demain, dès l'aube' in French"
speak espeak-es-quijote es "En un lugar de la Mancha, de cuyo nombre no quiero acordarme, no ha \
mucho tiempo que vivía un hidalgo de los de lanza en astillero, adarga antigua, rocín flaco y \
galgo corredor. Una olla de algo más vaca que carnero, salpicón las más noches, duelos y \
quebrantos los sábados, lentejas los viernes, algún palomino de añadidura los domingos, \
consumían las tres partes de su hacienda. El resto della concluían sayo de velarte, calzas de \
velludo para las fiestas, con sus pantuflos de lo mismo, y los días de entresemana se honraba \
con su vellorí de lo más fino." espeak-ng "the opening of Cervantes' 'Don Quijote' in Spanish"
speak espeak-it-dante it "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura, \
ché la diritta via era smarrita. Ahi quanto a dir qual era è cosa dura esta selva selvaggia e \
aspra e forte che nel pensier rinova la paura! Tant' è amara che poco è più morte; ma per \
trattar del ben ch'i' vi trovai, dirò de l'altre cose ch'i' v'ho scorte. Io non so ben ridir \
com' i' v'intrai, tant' era pien di sonno a quel punto che la verace via abbandonai. Ma poi ch'i' \
fui al piè d'un colle giunto, là dove terminava quella valle che m'avea di paura il cor \
compunto, guardai in alto e vidi le sue spalle vestite già de' raggi del pianeta." espeak-ng \
    "the opening of Dante's 'Inferno' in Italian (poetry)"
speak espeak-origin-lecture en-gb+m1 "When on board H.M.S. Beagle, as naturalist, I was much \
struck with certain facts in the distribution of the inhabitants of South America, and in the \
geological relations of the present to the past inhabitants of that continent. These facts \
seemed to me to throw some light on the origin of species, that mystery of mysteries, as it has \
been called by one of our greatest philosophers. On my return home, it occurred to me, in 1837, \
that something might perhaps be made out on this question by patiently accumulating and \
reflecting on all sorts of facts which could possibly have any bearing on it." espeak-ng \
    "the introduction of Darwin's 'On the Origin of Species'"
speak espeak-raven en-us+f4 "Once upon a midnight dreary, while I pondered, weak and weary, over \
many a quaint and curious volume of forgotten lore, while I nodded, nearly napping, suddenly \
there came a tapping, as of some one gently rapping, rapping at my chamber door. Tis some \
visitor, I muttered, tapping at my chamber door, only this and nothing more. Ah, distinctly I \
remember it was in the bleak December; and each separate dying ember wrought its ghost upon the \
floor. Eagerly I wished the morrow; vainly I had sought to borrow from my books surcease of \
sorrow, sorrow for the lost Lenore." espeak-ng "Poe's poem 'The Raven' (poetry)"
# eSpeak 1.48, the synthesiser espeak-ng was forked from: older voices, another source.
speak espeak1-mobydick en "Call me Ishmael. Some years ago, never mind how long precisely, \
having little or no money in my purse, and nothing particular to interest me on shore, I thought \
I would sail about a little and see the watery part of the world. It is a way I have of driving \
off the spleen and regulating the circulation. Whenever I find myself growing grim about the \
mouth; whenever it is a damp, drizzly November in my soul; whenever I find myself involuntarily \
pausing before coffin warehouses, and bringing up the rear of every funeral I meet, then, I \
account it high time to get to sea as soon as I can." espeak "the opening of Melville's 'Moby-Dick'"
speak espeak1-pride en-us "It is a truth universally acknowledged, that a single man in \
possession of a good fortune, must be in want of a wife. However little known the feelings or \
views of such a man may be on his first entering a neighbourhood, this truth is so well fixed in \
the minds of the surrounding families, that he is considered the rightful property of some one \
or other of their daughters. My dear Mister Bennet, said his lady to him one day, have you heard \
that Netherfield Park is let at last? Mister Bennet replied that he had not. But it is, returned \
she; for Missus Long has just been here, and she told me all about it." espeak \
    "the opening of Austen's 'Pride and Prejudice'"
speak espeak1-de-kafka de "Als Gregor Samsa eines Morgens aus unruhigen Träumen erwachte, fand \
er sich in seinem Bett zu einem ungeheueren Ungeziefer verwandelt. Er lag auf seinem \
panzerartig harten Rücken und sah, wenn er den Kopf ein wenig hob, seinen gewölbten, braunen, \
von bogenförmigen Versteifungen geteilten Bauch, auf dessen Höhe sich die Bettdecke, zum \
gänzlichen Niedergleiten bereit, kaum noch erhalten konnte. Seine vielen, im Vergleich zu \
seinem sonstigen Umfang kläglich dünnen Beine flimmerten ihm hilflos vor den Augen. Was ist mit \
mir geschehen? dachte er. Es war kein Traum." espeak \
    "the opening of Kafka's 'Die Verwandlung' in German"

# Asterisk's telephone prompts: real recordings of professional voice talents, 8 kHz. A clip
# strings together the prompts of at least 2.5 s, in file-name order, from PART * 10 on.
# prompts_clip NAME DIR PART SOURCE WHO LICENCE
prompts_clip() {
    local rel="Spoken/$1.flac" list="$WORK/$1.list" wav="$WORK/$1.wav"
    mkdir -p "$OUT/Spoken"
    if want "$OUT/$rel"; then
        local f all files=() total=0
        mapfile -t all < <(printf '%s\n' "$2"/*.wav | LC_ALL=C sort)
        for f in "${all[@]}"; do
            if [ "$(soxi -s "$f")" -ge 20000 ]; then files+=("$f"); fi
        done
        files=("${files[@]:$(($3 * 10))}")
        : > "$list"
        for f in "${files[@]}"; do
            echo "$f" >> "$list"
            total=$((total + $(soxi -s "$f")))
            if [ "$total" -ge $(( (CLIP_SECONDS + 1) * 8000 )) ]; then break; fi
        done
        mapfile -t files < "$list"
        sox -V1 "${files[@]}" "$wav"
        sox -V1 "$wav" -D -c 1 "$OUT/$rel" rate -v 22050 gain -n -1 trim 0 "$CLIP_SECONDS"
        rm -f "$wav" "$list"
    fi
    label "$rel" Spoken "$4" \
        "telephone voice prompts recorded by $5 (asterisk-core-sounds), spoken words, no music" \
        high "$6"
}
AST=/usr/share/asterisk/sounds
for part in 0 1 2; do
    prompts_clip "asterisk-en-$part" "$AST/en_US_f_Allison" "$part" \
        "asterisk-core-sounds (Allison Smith)" "Allison Smith (US English)" CC-BY-SA-3.0
done
for part in 0 1; do
    prompts_clip "asterisk-es-$part" "$AST/es_MX_f_Allison" "$part" \
        "asterisk-core-sounds (Allison Smith)" "Allison Smith (Mexican Spanish)" CC-BY-SA-3.0
    prompts_clip "asterisk-fr-$part" "$AST/fr_CA_f_June" "$part" \
        "asterisk-core-sounds-fr (June Wallack)" "June Wallack (Canadian French)" CC-BY-SA-3.0
    prompts_clip "asterisk-it-$part" "$AST/it_IT_m_Carlo" "$part" \
        "asterisk-core-sounds-it (Carlo Flora)" "Carlo Flora (Italian)" CC-BY-3.0
    prompts_clip "asterisk-ru-$part" "$AST/ru_RU_f_IvrvoiceRU" "$part" \
        "asterisk-core-sounds-ru (IvrvoiceRU)" "IvrvoiceRU (Russian)" CC-BY-3.0
done

mv "$LABELS_TMP" "$OUT/LABELS.csv"
# Drop clips an earlier version of this script made but the list above no longer names.
find "$OUT" -mindepth 2 -maxdepth 2 -name '*.flac' -not -path "$OUT/.work/*" -print0 \
    | while IFS= read -r -d '' f; do
        grep -qF "\"${f#"$OUT"/}\"" "$OUT/LABELS.csv" || { echo "removing stale $f"; rm -f "$f"; }
    done
echo "corpus: $OUT ($(($(wc -l < "$OUT/LABELS.csv") - 1)) clips)"
cut -d, -f2 "$OUT/LABELS.csv" | tail -n +2 | tr -d '"' | sort | uniq -c
