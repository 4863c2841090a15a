#!/usr/bin/env bash
# Idempotent setup for a fresh machine: system packages (ffmpeg, sctk,
# postgresql for scale-out tests, chromium for the page's browser tests), the
# web page's bundle (npm esbuild), a Python venv with the vendors' clients,
# ONNX Runtime 1.30.0 (from npm onnxruntime-node, cached, sha256-checked),
# a MinIO server for the S3 media store test (built from the Go module proxy,
# cached by version), the whospoke binary, and the models (copied and sha256-checked from
# WHOSPOKE_MODELS_FROM, default ../shared/models).
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
data=${XDG_DATA_HOME:-$HOME/.local/share}/whospoke
cache=${XDG_CACHE_HOME:-$HOME/.cache}/whospoke
say() { echo "setup: $*" >&2; }

# 1. System packages.
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ -x /usr/lib/sctk/bin/md-eval.pl ] || missing+=(sctk)
# PostgreSQL: the scale-out tests start a throwaway server with its binaries.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
# Debian's chromium runs the web page's browser tests (through playwright-core,
# which downloads no browser of its own).
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
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

# 3. Python venv with the vendors' official clients (pyannoteAI, AssemblyAI, OpenAI),
#    the recipe scripts' dependencies and schemathesis, for the
#    compatibility tests (pinned; the service itself is Go).
venv=$cache/venv
pyreq="pyannoteai-sdk==0.4.0 schemathesis==4.32.5 assemblyai==1.8.2 openai[realtime]==3.51.0 websockets==15.0.1 websocket-client==1.9.2 numpy==2.4.6 requests==2.34.2 python-dotenv==1.2.4"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$pyreq" ]; then
  say "installing $pyreq into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q $pyreq
  echo "$pyreq" >"$venv/.installed"
fi

# 4. MinIO server for the S3 tests (internal/miniotest looks for it here).
#    MinIO publishes no semver tags the Go proxy serves, so it is pinned by
#    pseudo-version (master, 2026-02-12). Built in a throwaway module and
#    build cache (about 2 GB, removed after): 3.5-5.5 min cold on 2 cores; a
#    re-run skips it when the binary's recorded module version matches.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
minio=$data/bin/minio
if [ "$(go version -m "$minio" 2>/dev/null | awk '$1 == "mod" { print $3 }')" != "$MINIO_VERSION" ]; then
  say "building github.com/minio/minio@$MINIO_VERSION (Go module proxy)"
  mkdir -p "$data/bin"
  gotmp=$(mktemp -d)
  trap 'rm -rf "$gotmp"' EXIT
  (cd "$gotmp" && GOBIN="$gotmp/bin" GOCACHE="$gotmp/cache" GOMODCACHE="$gotmp/mod" \
    GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0 \
    go install -trimpath "github.com/minio/minio@$MINIO_VERSION")
  mv "$gotmp/bin/minio" "$minio"
  rm -rf "$gotmp"
  trap - EXIT
  say "MinIO $MINIO_VERSION at $minio"
fi

# 5. The web page's bundle (web/dist, embedded by go build) from web/src,
#    type-checked by tsc and bundled by esbuild (build.mjs), with typescript,
#    esbuild and playwright-core pinned in web/package-lock.json (npm
#    registry); npm ci runs again only when the lock file changes.
stamp=web/node_modules/.whospoke-lock
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum <web/package-lock.json)" ]; then
  say "installing web/ npm packages (npm ci)"
  (cd web && npm ci --silent --no-audit --no-fund)
  sha256sum <web/package-lock.json >"$stamp"
fi
(cd web && node build.mjs)

# 6. The binary.
go build -o bin/whospoke ./cmd/whospoke

# 7. Models (sha256-checked; a re-run skips what is installed).
from=${WHOSPOKE_MODELS_FROM:-../shared/models}
if [ -d "$from" ]; then
  bin/whospoke models install --from "$from" >/dev/null
else
  bin/whospoke models list >/dev/null 2>&1 ||
    say "no models source at $from: set WHOSPOKE_MODELS_FROM or run 'bin/whospoke models pull --base-url URL'"
fi
