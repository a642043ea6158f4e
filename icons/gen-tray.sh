#!/usr/bin/env bash
# Renders the tray icons (idle, running, warning, error) from their SVG sources at 32 and
# 64 px. Needs rsvg-convert (Debian: librsvg2-bin). The PNGs are committed; run this after
# editing an SVG.
set -euo pipefail
cd "$(dirname "$0")/tray"
for st in idle running warning error; do
  rsvg-convert -w 32 -h 32 "$st.svg" -o "$st.png"
  rsvg-convert -w 64 -h 64 "$st.svg" -o "$st@2x.png"
done
