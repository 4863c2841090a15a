// Package live is whospoke's live diarization: it turns 16 kHz audio, pushed
// in frames of any size, into speaker start/end events with stable labels,
// emitted a fixed decision latency behind the audio.
//
// The method is diart's (Coria et al., ASRU 2021) on the offline pipeline's
// parts: every Step the segmentation model runs on the last Buffer seconds,
// each active local speaker is embedded by the shared chunk embedder
// (package chunkembed: chunks where it speaks alone, else its own speech),
// the online clustering of package clustering maps local speakers to global
// centroids (Hungarian-constrained, so two local speakers of one buffer
// never share a label), chunks are labelled by their nearest centroid, and
// the mapped activities of the overlapping buffers are averaged
// (Hamming-weighted) until a time is Latency old, when it is binarised into
// events; Silero VAD, run on the stream beside, keeps activity in silence it
// is sure of from becoming anyone's turn, and keeps a turn going through
// speech it hears where the speaker's activity dips below the onset.
package live

import (
	"errors"
	"fmt"
	"math"

	"github.com/whospoke/whospoke/chunkembed"
)

// Config holds a stream's settings. The defaults are measured best on the dev
// set (docs/STREAMING_BENCH.md).
type Config struct {
	// Buffer is the rolling window (seconds) the segmentation model sees.
	// 4 s measured as accurate as diart's 5 s here, at a fifth less
	// segmentation (docs/STREAMING_BENCH.md, run 5).
	Buffer float64
	// Step is how often (seconds of audio) the buffer is processed.
	Step float64
	// Latency: events about time t are emitted once audio up to t+Latency
	// has arrived (rounded up to the next Step).
	Latency float64
	// MaxSpeakers caps the global speakers one stream may create.
	MaxSpeakers int
	// TauActive: a local speaker whose probability reaches it somewhere in
	// the buffer is active and is clustered.
	TauActive float64
	// RhoUpdate: a local speaker whose mean probability over the buffer
	// reaches it is "long": it may found a new speaker and update centroids.
	RhoUpdate float64
	// DeltaNew is the cosine distance above which a long local speaker far
	// from every centroid becomes a new speaker.
	DeltaNew float64
	// Onset and Offset binarise the aggregated activity (hysteresis): a
	// speaker starts when it reaches Onset and ends when it falls below Offset.
	Onset, Offset float64
	// SpeechGate is the Silero VAD probability below which a 32 ms frame is
	// silence; activity in silence of at least 256 ms is not decided as
	// anyone's (gate.go). 0.01 is Silero's floor for silence: dev's
	// reference silence scores 0.00–0.02 on both channels, and every value
	// from 0.02 up took telephone speech away (docs/STREAMING_BENCH.md).
	// 0 turns the gate off.
	SpeechGate float64
	// RecoverSpeech keeps a speaker's turn going through decision cells
	// where Silero hears speech (its own threshold, 0.5) but no speaker
	// reaches Onset, while that speaker is still the most active: the
	// offline pipeline's recovered speech (diarize/recover.go), limited to
	// turns that go on (decider.recovering). It uses the speech gate's VAD,
	// so it is off when SpeechGate is 0.
	RecoverSpeech bool
	// Embed says how local speakers are embedded: the chunk grid and shares
	// and the least own speech (MinFallbackSeconds) a speaker without a
	// chunk needs, shared with the offline pipeline but with the live
	// values of chunkembed.LiveConfig.
	Embed chunkembed.Config
	// FallbackReuse: a local speaker embedded from its own speech (no chunk
	// of its own) reuses that embedding for up to this many following steps
	// while the overlapping buffers show it speaking at the same times,
	// instead of re-embedding nearly the same speech every step.
	FallbackReuse int

	// BatchSize caps how many sessions' inputs share one model call.
	BatchSize int
	// Runners caps the model calls in flight at once (0: one per core).
	Runners int
}

// DefaultConfig returns the measured-best settings.
func DefaultConfig() Config {
	return Config{
		Buffer:        4,
		Step:          0.5,
		Latency:       1,
		MaxSpeakers:   8,
		TauActive:     0.5,
		RhoUpdate:     0.15,
		DeltaNew:      0.5,
		Onset:         0.5,
		Offset:        0.5,
		SpeechGate:    0.01,
		RecoverSpeech: true,
		Embed:         chunkembed.LiveConfig(),
		FallbackReuse: 1,
		BatchSize:     4,
	}
}

// Validate checks the settings.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("live: "+format, a...)) }
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if !finite(c.Buffer) || c.Buffer < 3 || c.Buffer > 10 {
		bad("buffer %.3gs outside 3..10 s", c.Buffer)
	}
	if !finite(c.Step) || c.Step < 0.1 || c.Step > 0.5 {
		bad("step %.3gs outside 0.1..0.5 s", c.Step)
	}
	if !finite(c.Latency) || c.Latency < c.Step || c.Latency > c.Buffer {
		bad("latency %.3gs outside step..buffer (%.3g..%.3g s)", c.Latency, c.Step, c.Buffer)
	}
	if c.MaxSpeakers < 1 || c.MaxSpeakers > 100 {
		bad("max speakers %d outside 1..100", c.MaxSpeakers)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"tau_active", c.TauActive}, {"rho_update", c.RhoUpdate}, {"onset", c.Onset}, {"offset", c.Offset}} {
		if !finite(p.v) || p.v <= 0 || p.v >= 1 {
			bad("%s %v outside (0, 1)", p.name, p.v)
		}
	}
	if !finite(c.SpeechGate) || c.SpeechGate < 0 || c.SpeechGate >= 1 {
		bad("speech gate %v outside [0, 1)", c.SpeechGate)
	}
	if c.Offset > c.Onset {
		bad("offset %v above onset %v", c.Offset, c.Onset)
	}
	if !finite(c.DeltaNew) || c.DeltaNew <= 0 || c.DeltaNew > 2 {
		bad("delta_new %v outside (0, 2] (cosine distance)", c.DeltaNew)
	}
	if err := c.Embed.Validate(); err != nil {
		bad("%v", err)
	} else if c.Embed.ChunkSeconds > c.Buffer {
		bad("embedding chunk %.3gs longer than the buffer", c.Embed.ChunkSeconds)
	}
	if c.FallbackReuse < 0 || c.FallbackReuse > 20 {
		bad("fallback reuse %d outside 0..20 steps", c.FallbackReuse)
	}
	if c.BatchSize < 1 || c.BatchSize > 64 {
		bad("batch size %d outside 1..64", c.BatchSize)
	}
	if c.Runners < 0 {
		bad("runners %d negative", c.Runners)
	}
	return errors.Join(errs...)
}
