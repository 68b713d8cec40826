#!/usr/bin/env bash
# Unlabelled game music from Debian's packages, for distillation (scripts/distill_student.py).
#
# Why: a student network learns the teacher's outputs from audio alone, so it needs more, and
# more varied, recordings than the labelled check corpus holds. Debian's game-data packages
# ship free soundtracks (orchestral, rock, electronic, ambient) that the corpus does not use.
# Each package is fetched with `apt-get download` (no install, no root) and unpacked with
# dpkg-deb into OUT/<package>/; distill_student.py keeps files of 400 KB or more (the rest are
# sound effects), and a package is one family for its held-out split. About 0.9 GB of .debs;
# the .debs are deleted once unpacked. Idempotent: an unpacked package is skipped.
#
# Usage: scripts/fetch_unlabelled_audio.sh [OUT]   (default /work/unlab/x)
set -euo pipefail
OUT="${1:-/work/unlab/x}"
# 13 packages, 139 files (neverball, pingus, trigger-rally, blobwars and openarena hold no
# music file of 400 KB or more: not listed). The packages kept for the independent check of
# mgc (issue 11) are never fetched here: they must feed no weight and no choice.
PACKAGES=(flare-game asc-music drascula-music boswars-data freeorion-data extremetuxracer-data
          xmoto-data alienblaster-data marsshooter-data scorched3d-data warmux-data
          caveexpress-data powermanga-data)
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for pkg in "${PACKAGES[@]}"; do
    [ -d "$OUT/$pkg" ] && continue
    (cd "$WORK" && apt-get download -qq "$pkg")
    mkdir -p "$WORK/x"
    dpkg-deb -x "$WORK/$pkg"_*.deb "$WORK/x"
    mkdir -p "$OUT/$pkg.tmp"
    # only the audio: game data packages also hold images, maps and code
    find "$WORK/x" -type f \( -iname '*.ogg' -o -iname '*.mp3' -o -iname '*.flac' \
        -o -iname '*.opus' -o -iname '*.wav' \) -size +400k -print0 \
        | while IFS= read -r -d '' f; do
            rel=${f#"$WORK/x/"}; mkdir -p "$OUT/$pkg.tmp/$(dirname "$rel")"; mv "$f" "$OUT/$pkg.tmp/$rel"
          done
    mv "$OUT/$pkg.tmp" "$OUT/$pkg"
    rm -rf "$WORK/x" "$WORK/$pkg"_*.deb
    echo "$pkg: $(find "$OUT/$pkg" -type f | wc -l) audio files"
done
