#!/usr/bin/env bash
# Regenerates sounds/prompts/*.wav from sounds/prompts.txt.
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox).
# Output: mono, 8000 Hz, 16-bit signed PCM, leading/trailing silence trimmed,
# normalised to -3 dBFS, 100 ms of silence after.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/prompts"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$here/prompts.txt" | grep -v '^$' | while IFS='|' read -r name text; do
  espeak-ng -v en-us -s 155 -w "$tmp/$name.wav" "$text"
  sox "$tmp/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$name.wav" \
    silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3 pad 0 0.1
  echo "$name: $(soxi -D "$out/$name.wav") s"
done

# Music on hold: a short plucked melody (C major, 120 bpm) that loops cleanly, same
# format as the prompts. Needs only sox.
notes="C4 E4 G4 C5 B4 G4 E4 G4 A4 F4 D4 F4 G4 E4 C4 E4"
files=()
i=0
for n in $notes; do
  sox -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/note$i.wav" synth 0.5 pluck "$n" fade 0 0.5 0.05
  files+=("$tmp/note$i.wav")
  i=$((i + 1))
done
sox "${files[@]}" -r 8000 -c 1 -b 16 -e signed-integer "$out/hold_music.wav" norm -6
echo "hold_music: $(soxi -D "$out/hold_music.wav") s"
