#!/usr/bin/env bash
# Idempotent setup of what only the tests need, after scripts/setup.sh
# (`make test` runs both): sctk (NIST md-eval, the scorer's reference),
# PostgreSQL for the scale-out tests, Debian's chromium for the page's
# browser tests, a Python venv with the vendors' clients, and a MinIO server
# for the S3 media store tests. Everything is cached between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

data=${XDG_DATA_HOME:-$HOME/.local/share}/whospoke
cache=${XDG_CACHE_HOME:-$HOME/.cache}/whospoke
say() { echo "setup-test: $*" >&2; }

# 1. System packages.
missing=()
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

# 2. Python venv with the vendors' official clients (pyannoteAI, AssemblyAI, OpenAI),
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

# 3. MinIO server for the S3 tests (internal/miniotest looks for it here).
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
