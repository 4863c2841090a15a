package server

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/internal/testenv"
)

// BenchmarkSubmit measures job submissions per second on the embedded
// defaults (SQLite file, embedded NATS): validate, store, queue, answer.
// The queued jobs fail fast (their input is missing), as they are not what is measured.
func BenchmarkSubmit(b *testing.B) {
	ts := startServerB(b, func(c *Config) { c.SubmitPerMinute, c.PollPerMinute = -1, -1 })
	req := api.DiarizeRequest{URL: "media://bench/none.wav"}
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ts.submit(b, "/v1/diarize", req)
			n.Add(1)
		}
	})
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "submits/s")
}

// BenchmarkJobLatency30s measures submit → succeeded wall time for the 30 s
// two-speaker sample, polling every 50 ms as an eager client would.
func BenchmarkJobLatency30s(b *testing.B) {
	// Polling every 50 ms would exceed the default 300 polls/min.
	ts := startServerB(b, func(c *Config) { c.PollPerMinute = -1 })
	u := ts.upload(b, "bench/sample.wav", sampleWAV(b))
	var lat []float64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		id := ts.submit(b, "/v1/diarize", api.DiarizeRequest{URL: u})
		for {
			_, body := ts.do(b, "GET", "/v1/jobs/"+id, ts.Key, nil)
			if j := decode[api.Job](b, body); api.Terminal(j.Status) {
				if j.Status != api.StatusSucceeded {
					b.Fatalf("job %s", j.Status)
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		lat = append(lat, time.Since(start).Seconds())
	}
	sort.Float64s(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-s")
	b.ReportMetric(lat[len(lat)-1], "max-s")
}

// TestIdentificationProtocolThroughAPI runs the dev voiceprint protocol
// through the HTTP API (voiceprint jobs for the enrolled speakers, identify
// jobs on test and impostor files, threshold 50) and prints top-1 and
// false-accept rates. Opt-in (about 4 min on 2 cores): WHOSPOKE_API_PROTOCOL=1.
func TestIdentificationProtocolThroughAPI(t *testing.T) {
	if os.Getenv("WHOSPOKE_API_PROTOCOL") == "" {
		t.Skip("set WHOSPOKE_API_PROTOCOL=1 to run the whole voiceprint protocol through the API")
	}
	dev := testenv.DevSet(t)
	ts := startServer(t, func(c *Config) { c.SubmitPerMinute, c.PollPerMinute = -1, -1 })
	f, err := os.Open(filepath.Join(dev, "speakers", "speaker_id_protocol.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct{ file, speaker, role string }
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		rows = append(rows, row{c[0], c[1], c[3]})
	}
	upload := func(r row) string {
		return ts.upload(t, strings.ReplaceAll(r.file, "speakers/", ""), filepath.Join(dev, r.file))
	}

	// Enrol: one voiceprint per enrolment file; several per speaker share a label.
	var prints []api.VoiceprintInput
	enrolled := map[string]bool{}
	for _, r := range rows {
		if r.role != "enroll" {
			continue
		}
		j := ts.wait(t, ts.submit(t, "/v1/voiceprint", api.VoiceprintRequest{URL: upload(r)}))
		if j.Status != api.StatusSucceeded {
			t.Fatalf("voiceprint %s: %s", r.file, j.Output)
		}
		prints = append(prints, api.VoiceprintInput{Label: "spk-" + r.speaker, Voiceprint: decode[api.VoiceprintOutput](t, j.Output).Voiceprint})
		enrolled[r.speaker] = true
	}
	th := 50.0
	var tests, top1, impostors, falseAccepts, misses int
	for _, r := range rows {
		if r.role != "test" && r.role != "impostor" {
			continue
		}
		one := 1
		j := ts.wait(t, ts.submit(t, "/v1/identify", api.IdentifyRequest{
			DiarizeRequest: api.DiarizeRequest{URL: upload(r), NumSpeakers: &one},
			Voiceprints:    prints, Matching: &api.Matching{Threshold: &th},
		}))
		if j.Status != api.StatusSucceeded {
			t.Fatalf("identify %s: %s", r.file, j.Output)
		}
		out := decode[api.IdentifyOutput](t, j.Output)
		best, bestConf := "", -1.0
		var match *string
		if len(out.Voiceprints) > 0 {
			for l, c := range out.Voiceprints[0].Confidence {
				if c > bestConf {
					best, bestConf = l, c
				}
			}
			match = out.Voiceprints[0].Match
		}
		if r.role == "test" && enrolled[r.speaker] {
			tests++
			if best == "spk-"+r.speaker {
				top1++
			}
			if match == nil || *match != "spk-"+r.speaker {
				misses++
			}
		} else if r.role == "impostor" {
			impostors++
			if match != nil {
				falseAccepts++
			}
		}
	}
	msg := fmt.Sprintf("API protocol: %d enrolment files (%d speakers); top-1 %d/%d = %.1f %%; misses at threshold 50: %d/%d; impostor false accepts at threshold 50: %d/%d",
		len(prints), len(enrolled), top1, tests, 100*float64(top1)/float64(tests), misses, tests, falseAccepts, impostors)
	t.Log(msg)
	fmt.Println(msg)
	if top1 < tests*95/100 {
		t.Errorf("top-1 below 95 %%")
	}
}
