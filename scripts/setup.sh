#!/usr/bin/env bash
# Idempotent setup of what running whospoke needs, for `make run` on a fresh
# machine: ffmpeg (Debian), ONNX Runtime 1.30.0 (from npm onnxruntime-node,
# cached, sha256-checked), the web page's bundle (web/dist, which the binary
# embeds), the whospoke binary, and the models (copied and sha256-checked
# from WHOSPOKE_MODELS_FROM, default ../shared/models). What only the tests
# need is in scripts/setup-test.sh (`make test`).
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
data=${XDG_DATA_HOME:-$HOME/.local/share}/whospoke
cache=${XDG_CACHE_HOME:-$HOME/.cache}/whospoke
say() { echo "setup: $*" >&2; }

# 1. System packages: ffmpeg decodes everything but PCM WAV; zlib's headers
#    build whisper's compression-ratio test (whisper/zlib.go, C zlib as
#    openai's Python zlib).
pkgs=()
command -v ffmpeg >/dev/null || pkgs+=(ffmpeg)
[ -f /usr/include/zlib.h ] || pkgs+=(zlib1g-dev)
if [ ${#pkgs[@]} -gt 0 ]; then
  say "installing ${pkgs[*]}"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

# 2. ONNX Runtime shared library, where the binary and tests look for it.
lib=$data/lib/libonnxruntime.so.1
if ! echo "$ORT_SHA256  $lib" | sha256sum -c --status 2>/dev/null; then
  mkdir -p "$cache/ort" "$data/lib"
  tgz=$cache/ort/onnxruntime-node-$ORT_VERSION.tgz
  if [ ! -f "$tgz" ]; then
    say "fetching onnxruntime-node@$ORT_VERSION (npm)"
    (cd "$cache/ort" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  fi
  tmp=$(mktemp -d)
  tar -xzf "$tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  echo "$ORT_SHA256  $tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --status ||
    { say "libonnxruntime.so.1 checksum mismatch"; rm -rf "$tmp" "$tgz"; exit 1; }
  mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib"
  rm -rf "$tmp"
  say "ONNX Runtime $ORT_VERSION at $lib"
fi

# 3. The web page's bundle (web/dist, embedded by go build) from web/src,
#    type-checked by tsc and bundled by esbuild (build.mjs), with typescript,
#    esbuild (and playwright-core, for the page's tests) pinned in
#    web/package-lock.json (npm registry); npm ci runs again only when the
#    lock file changes.
stamp=web/node_modules/.whospoke-lock
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum <web/package-lock.json)" ]; then
  say "installing web/ npm packages (npm ci)"
  (cd web && npm ci --silent --no-audit --no-fund)
  sha256sum <web/package-lock.json >"$stamp"
fi
(cd web && node build.mjs)

# 4. The binary, with the version and commit `whospoke version` prints.
version=$(git describe --tags --dirty 2>/dev/null || echo devel)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit+="+modified"
go build -ldflags "-X main.version=$version -X main.commit=$commit" -o bin/whospoke ./cmd/whospoke

# 5. Models (sha256-checked; a re-run skips what is installed).
from=${WHOSPOKE_MODELS_FROM:-../shared/models}
if [ -d "$from" ]; then
  bin/whospoke models install --from "$from" >/dev/null
else
  bin/whospoke models list >/dev/null 2>&1 ||
    say "no models source at $from: set WHOSPOKE_MODELS_FROM, or run 'bin/whospoke models pull --from DIR|URL' (see docs/MODELS.md)"
fi
