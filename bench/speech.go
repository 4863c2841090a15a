package bench

import (
	"math"
	"slices"

	"github.com/whospoke/whospoke/audio"
)

// The calls part's reference turns come from an energy detector on the
// clean source, with pauses under 0.3 s bridged: the convention the dev
// set's simulated conversations were annotated with (their README), so a
// pause inside a LibriSpeech utterance is not scored as missed speech.
const (
	frameLen    = audio.SampleRate / 100 // 10 ms: every time the part writes lies on this grid
	bridgeFrame = 30                     // pauses shorter than 0.3 s are bridged
	// speechRange is how far below an utterance's loud speech a frame may
	// be and still count as speech, in dB: the weakest consonants of read
	// speech lie 30–40 dB under its vowels, while LibriSpeech's room and
	// recording noise lies further down (see speechThreshold).
	speechRange = 35.0
	// floorMargin keeps the threshold this far above the noise floor, for
	// the few recordings whose noise lies within speechRange of the speech.
	floorMargin = 10.0
)

// frameDB is the energy of each whole 10 ms frame of x in dB (full scale 0).
func frameDB(x []float32) []float64 {
	db := make([]float64, len(x)/frameLen)
	for i := range db {
		var e float64
		for _, v := range x[i*frameLen : (i+1)*frameLen] {
			e += float64(v) * float64(v)
		}
		db[i] = 10 * math.Log10(e/frameLen+1e-12)
	}
	return db
}

// speechThreshold is the energy above which a frame of this recording is
// speech: speechRange below its loud speech (the 95th percentile frame),
// and at least floorMargin above its noise floor (the 10th percentile).
// Both come from the whole recording, which holds pauses and silence to
// measure them from.
func speechThreshold(db []float64) float64 {
	s := slices.Clone(db)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return math.Max(q(0.95)-speechRange, q(0.10)+floorMargin)
}

// speechRuns returns the speech of frames [from, to) as runs of frame
// indices [start, end): frames at or above thr, with pauses shorter than
// bridgeFrame bridged. Runs never leave [from, to).
func speechRuns(db []float64, thr float64, from, to int) [][2]int {
	var runs [][2]int
	for i := from; i < to; i++ {
		if db[i] < thr {
			continue
		}
		if n := len(runs); n > 0 && i-runs[n-1][1] < bridgeFrame {
			runs[n-1][1] = i + 1
		} else {
			runs = append(runs, [2]int{i, i + 1})
		}
	}
	return runs
}
