#!/usr/bin/env bash
# Makes sure the Debian packages ampc needs are installed. As root it installs what is missing
# (running apt-get update first); otherwise it prints the exact command and fails.
# These lists are the only place the project's system dependencies are named.
#
#   scripts/deps.sh         what building and testing need
#   scripts/deps.sh bench   also what the benchmarks compare against (`make bench`). These are
#                           optional: without root, a missing one is only reported, and the
#                           benchmark prints that it is absent.
set -euo pipefail

packages=(
  gcc make cmake pkgconf
  libcmocka-dev   # unit tests
  libjansson-dev  # JSON: safetensors headers, the CLI's and benchmarks' output
  libgomp1        # OpenMP runtime (gcc's)
  libopenblas-dev # F32/F64 GEMM
  zlib1g-dev      # gzipped IDX data sets
  dataset-fashion-mnist # the default data set (/usr/share/datasets/fashion-mnist)
)

bench_packages=(
  libdnnl-dev     # oneDNN: `ampc bench gemm` compares with its bf16 matmul (dlopen, never linked)
)

case "${1:-}" in
  "") bench_packages=() ;;
  bench) ;;
  *) echo "usage: scripts/deps.sh [bench]" >&2; exit 2 ;;
esac

# Prints the packages of the list that are not installed.
missing_of() {
  local package status
  for package in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || echo "$package"
  done
}

mapfile -t missing < <(missing_of "${packages[@]}")
mapfile -t missing_bench < <(missing_of "${bench_packages[@]}")
if [[ $(id -u) -ne 0 && ${#missing_bench[@]} -gt 0 ]]; then
  echo "ampc: optional benchmark packages not installed: ${missing_bench[*]}" >&2
  echo "  (sudo apt-get install -y ${missing_bench[*]} adds them to the comparison)" >&2
  missing_bench=()
fi
missing+=("${missing_bench[@]}")
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
