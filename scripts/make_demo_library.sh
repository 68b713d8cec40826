#!/usr/bin/env bash
# Regenerate pipelines/demo/: the small library `mgc tag --demo` tags.
#
# Why: the demo must run offline from the installed package, show clearly different styles
# and be redistributable. The clips are 15 s excerpts of free game soundtracks shipped by
# Debian (GPL-2+ and Expat) and of MIDI accompaniment rendered with the FluidR3 GM soundfont
# (MIT), encoded as mono Ogg Opus at 48 kbit/s (< 120 KB each). Sources and licences:
# pipelines/demo/SOURCES.md.
#
# Deterministic: MMA's random humanising is seeded and opusenc's stream serial is fixed, so
# with the same Debian 12 package versions the output is byte-identical (sha256 listed in
# SOURCES.md); other versions give audibly the same clips.
#
# Usage: scripts/make_demo_library.sh  (needs root or sudo for apt-get)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DEMO="$REPO/pipelines/demo"
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
SECONDS_PER_CLIP=15

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PACKAGES=(sox libsox-fmt-base opus-tools unzip fluidsynth fluid-soundfont-gm mma
          wesnoth-1.16-music fretsonfire-songs-sectoid nexuiz-music)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DEMO"

# encode SRC_WAV START NAME TITLE ARTIST LICENCE: mono 48 kHz excerpt -> Ogg Opus
encode() {
    local serial
    serial=$(printf '%s' "$3" | cksum | cut -d' ' -f1)
    sox -V1 "$1" -D -b 16 -c 1 "$WORK/excerpt.wav" trim "$2" "$SECONDS_PER_CLIP" gain -3 \
        rate -v 48000 fade t 0.5 0 1 gain -n -1
    opusenc --quiet --bitrate 48 --serial "$serial" --title "$4" --artist "$5" \
        --comment "LICENSE=$6" "$WORK/excerpt.wav" "$DEMO/$3"
}

# mma_render NAME GROOVE TEMPO "CHORDS" -> $WORK/NAME.wav (CHORDS: bars separated by |)
mma_render() {
    local bars=()
    IFS='|' read -r -a bars <<< "$4"
    {
        echo "RndSeed 1"
        echo "Tempo $3"
        echo "Groove $2"
        for _ in 1 2 3; do printf '%s\n' "${bars[@]}"; done
    } > "$WORK/$1.mma"
    mma -f "$WORK/$1.mid" "$WORK/$1.mma" >/dev/null 2>&1
    { fluidsynth -ni -q -g 0.7 -r 44100 -T raw -O s16 -F - "$SF2" "$WORK/$1.mid" 2>/dev/null \
        || true; } | head -c $((44100 * 4 * 60)) \
        | sox -V1 -D -t raw -r 44100 -e signed -b 16 -c 2 - "$WORK/$1.wav"
}

rm -f "$DEMO"/*.opus

encode /usr/share/games/wesnoth/1.16/data/core/music/return_to_wesnoth.ogg 20 \
    "return_to_wesnoth.opus" "Return to Wesnoth (excerpt)" "The Battle for Wesnoth" GPL-2+

FOF="/usr/share/games/fretsonfire/data/songs/sectoid/War of freedom"
sox -V1 -D -m "$FOF/song.ogg" "$FOF/guitar.ogg" "$WORK/war_of_freedom.wav"
encode "$WORK/war_of_freedom.wav" 40 "Sectoid - War of freedom.opus" \
    "War of freedom (excerpt)" "Sectoid (Carlos Viola Iborra)" Expat

unzip -p /usr/share/games/nexuiz/data/music.pk3 sound/cdtracks/subcities.ogg \
    > "$WORK/subcities.ogg"
encode "$WORK/subcities.ogg" 40 "nexuiz-subcities.opus" "Subcities (excerpt)" \
    "Nexuiz soundtrack" GPL-2+

mma_render bigband BigBandPlus 150 "Dm7|G7|Cmaj7|A7|Dm7|G7|Em7 / A7|Dm7 / G7"
encode "$WORK/bigband.wav" 4 "Café big band – swing.opus" "Big band swing" \
    "MMA BigBandPlus groove, FluidR3 GM" "GPL-2+ (MMA grooves), MIT (FluidR3_GM)"

mma_render bluegrass BlueGrass 200 "G|G|C|C|D|D|G|G|G|G|C|C|D|D7|G|G"
encode "$WORK/bluegrass.wav" 4 "bluegrass_in_G.opus" "Bluegrass in G" \
    "MMA BlueGrass groove, FluidR3 GM" "GPL-2+ (MMA grooves), MIT (FluidR3_GM)"

cd "$DEMO"
ls -l -- *.opus
sha256sum -- *.opus
