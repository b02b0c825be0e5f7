#!/usr/bin/env bash
# Installs the Debian packages in scripts/debian-packages.txt that are not installed yet
# (as root, or through sudo). Does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
while read -r pkg; do
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done < scripts/debian-packages.txt
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "batchprop: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
