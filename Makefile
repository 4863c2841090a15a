# whospoke: `make run` sets up what running needs and diarizes the sample
# conversation; `make test` also sets up the test tooling and runs the tests.
SHELL := /bin/bash
export WHOSPOKE_MODELS_FROM ?= $(abspath ../shared/models)
DATA := $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/whospoke
MODELS := $(or $(WHOSPOKE_MODELS),$(DATA)/models)

.PHONY: setup setup-test run test bench vet peer web fuzz

# setup installs what running needs (scripts/setup.sh); setup-test adds
# what only the tests need (scripts/setup-test.sh). Both are idempotent.
setup:
	@scripts/setup.sh

setup-test: setup
	@scripts/setup-test.sh

run: setup
	bin/whospoke diarize --format txt $(MODELS)/test-audio/pyannote-sample/sample.wav

test: setup-test
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

# bench writes its report to bench-report.md (ignored by git): BENCHMARKS.md
# is curated by hand, with command, machine and date beside each table.
bench: setup
	bin/whospoke bench --set ../shared/eval/dev --out bench-report.md

vet:
	gofmt -l . | (! grep .)
	go vet ./...

# web rebuilds the browser page's bundle (web/dist, embedded) and the binary
# after a change under web/src: setup does both, and skips what is done.
web: setup
