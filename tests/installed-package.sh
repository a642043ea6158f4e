#!/usr/bin/env bash
# The desktop package as a user gets it: build the .deb with the Tauri CLI, install it with
# apt (so its declared dependencies must be complete), start it through its desktop entry
# with gtk-launch under the X display in DISPLAY, and check that its window appears.
# A screenshot goes to tests/artifacts/installed-launch.png. Run by ./dev test.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

ui/node_modules/.bin/tauri build --debug --bundles deb
deb=$(ls target/debug/bundle/deb/Lifeboat_*_amd64.deb)
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --reinstall --no-install-recommends "./$deb"
test -x /usr/bin/lifeboat-desktop
test -f /usr/share/applications/Lifeboat.desktop
grep -q '^Exec=lifeboat-desktop' /usr/share/applications/Lifeboat.desktop
for size in 32x32 64x64 128x128; do
  test -f "/usr/share/icons/hicolor/$size/apps/lifeboat-desktop.png"
done

home=$(mktemp -d)
export LIFEBOAT_HOME=$home
export DOCKER_HOST="unix://$home/no-docker.sock"
mkdir -p tests/artifacts
status=0
dbus-run-session -- bash -c '
  gtk-launch Lifeboat
  for _ in $(seq 100); do
    xwininfo -root -tree | grep -q "\"Lifeboat [0-9.]*\": (\"lifeboat-desktop\"" && break
    sleep 0.2
  done
  found=1
  xwininfo -root -tree | grep -q "\"Lifeboat [0-9.]*\": (\"lifeboat-desktop\"" || found=0
  sleep 2
  import -window root tests/artifacts/installed-launch.png
  pgrep -f "^(/usr/bin/)?lifeboat-desktop" >/dev/null || found=0
  pkill -f "^(/usr/bin/)?lifeboat-desktop" || true
  [ "$found" = 1 ]
' || status=$?
if [ ! -f tests/artifacts/installed-launch.png ] || [ "$status" != 0 ]; then
  echo "the installed Lifeboat did not show its window when started from its desktop entry" >&2
  exit 1
fi
echo "installed package: window shown (tests/artifacts/installed-launch.png)"
