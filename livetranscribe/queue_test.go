package livetranscribe

import (
	"context"
	"testing"
)

// TestDropProbe: a probe whose pause ended too soon to end the turn is
// withdrawn while it waits: queued (removed, the other jobs kept in
// order) or waiting for a decoder (its context cancelled), while one being
// decoded, a partial being decoded and a final are left alone.
func TestDropProbe(t *testing.T) {
	q := newQueue()
	q.push(job{kind: jobSpeakers})
	q.push(job{kind: jobPartial, probe: true, turn: 1})
	q.push(job{kind: jobSpeakers, decided: 2})
	if !q.dropProbe() {
		t.Error("dropProbe withdrew nothing")
	}
	if len(q.jobs) != 2 || q.jobs[0].kind != jobSpeakers || q.jobs[1].decided != 2 {
		t.Fatalf("queued probe not withdrawn alone: %+v", q.jobs)
	}

	pctx, pdone := q.decodePartial(context.Background(), false)
	defer pdone()
	prctx, prdone := q.decodePartial(context.Background(), true)
	q.push(job{kind: jobFinal})
	if prctx.Err() != nil {
		t.Fatal("a final cancelled the probe it would reuse")
	}
	if pctx.Err() == nil {
		t.Fatal("a final left the partial being decoded running")
	}
	if !q.dropProbe() || prctx.Err() == nil {
		t.Fatal("dropProbe left the probe waiting for a decoder")
	}
	prdone()
	prctx, prdone = q.decodePartial(context.Background(), true)
	q.decoderGranted()
	if q.dropProbe() || prctx.Err() != nil {
		t.Fatal("dropProbe cancelled a probe being decoded")
	}
	if len(q.jobs) != 3 || q.jobs[2].kind != jobFinal {
		t.Fatalf("dropProbe touched other jobs: %+v", q.jobs)
	}
	prdone()
	if q.dropProbe() {
		t.Error("dropProbe with no probe reported one")
	}
}
