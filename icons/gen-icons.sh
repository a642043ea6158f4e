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

# The app icon in every size the bundles need (PNG, ICNS, ICO), from lifeboat.svg, through
# the Tauri CLI in ui/node_modules.
cd ..
rsvg-convert -w 1024 -h 1024 lifeboat.svg -o /tmp/lifeboat-1024.png
out=$(mktemp -d)
(cd ../ui && npx tauri icon /tmp/lifeboat-1024.png -o "$out" >/dev/null)
cp "$out"/{32x32.png,64x64.png,128x128.png,128x128@2x.png,icon.icns,icon.ico,icon.png} .
rm -rf "$out" /tmp/lifeboat-1024.png
