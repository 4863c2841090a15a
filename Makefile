# whospoke: `make run` sets everything up and diarizes the sample
# conversation; `make test` runs the test suite.
SHELL := /bin/bash
export WHOSPOKE_MODELS_FROM ?= $(abspath ../shared/models)
DATA := $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/whospoke
MODELS := $(or $(WHOSPOKE_MODELS),$(DATA)/models)

.PHONY: setup run test bench vet peer web fuzz

setup:
	@scripts/setup.sh

run: setup
	bin/whospoke diarize $(MODELS)/test-audio/pyannote-sample/sample.wav

test: setup
	go vet ./...
	go test -count=1 -timeout 20m ./...

# The fuzz targets' seed corpora run with `make test`; this runs the fuzzer
# itself, FUZZTIME per target (a duration or a count such as 1000000x).
FUZZTIME ?= 1000000x
FUZZ_TARGETS := audio:FuzzDecodeWAV annotation:FuzzReadRTTM annotation:FuzzReadUEM \
	identify:FuzzDecode api/validate:FuzzRequestJSON api:FuzzLiveFrame
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		go test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) ./$${t%%:*}/; \
	done

bench: setup
	bin/whospoke bench --set ../shared/eval/dev --out BENCHMARKS.md

vet:
	gofmt -l . | (! grep .)
	go vet ./...

# web rebuilds the browser page's bundle (web/dist, embedded) and the binary
# after a change under web/src; setup does the same on a fresh machine.
web:
	cd web && node build.mjs
	go build -o bin/whospoke ./cmd/whospoke
