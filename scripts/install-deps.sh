#!/usr/bin/env bash
# Installs the Debian 12 packages the build needs; does nothing when they are all present.
set -euo pipefail
packages=(build-essential cmake pkg-config qt6-base-dev qt6-svg-dev qt6-tools-dev qt6-tools-dev-tools
          qt6-l10n-tools libqcustomplot-dev libsqlite3-dev nlohmann-json3-dev libgl-dev xvfb xauth
          fonts-wqy-microhei) # a CJK font, so that the Simplified Chinese interface is legible
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
