#!/usr/bin/env bash
# Installs the Debian packages CinePass needs, only where missing.
# libzbar0: pyzbar; xvfb/xauth + xcb libs: Qt windows under Xvfb; fonts: CJK text;
# libpulse0: QtMultimedia (sound); postgresql: the server tests run on a real PostgreSQL too;
# chromium: the console's browser tests (Playwright drives /usr/bin/chromium);
# icu-devtools (icupkg) + binutils + gcc: packaging/build.py thins Qt's ICU data (32 -> 10 MB).
set -euo pipefail
pkgs=(libzbar0 xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
      libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-shape0 libxcb-randr0
      libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libpulse0 fonts-wqy-microhei
      postgresql imagemagick poppler-utils icu-devtools binutils gcc chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
