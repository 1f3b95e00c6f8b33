#!/usr/bin/env bash
# Makes sure the Debian packages ampc needs are installed. As root it installs what is missing
# (running apt-get update first); otherwise it prints the exact command and fails.
# This list is the only place the project's system dependencies are named.
set -euo pipefail

packages=(
  gcc make cmake pkgconf
  libcmocka-dev   # unit tests
  libjansson-dev  # JSON output of the CLI and benchmarks
  libgomp1        # OpenMP runtime (gcc's)
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  echo "ampc: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "ampc: missing Debian packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
