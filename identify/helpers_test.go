package identify

import (
	"bufio"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/whospoke/whospoke/annotation"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/internal/testenv"
	"github.com/whospoke/whospoke/models"
)

var (
	pipeOnce sync.Once
	pipe     *diarize.Pipeline
	pipeErr  error
)

// pipeline loads the real models once for the package's tests: the
// installed ones, else the shared folder (same layout).
func pipeline(t testing.TB) *diarize.Pipeline {
	t.Helper()
	pipeOnce.Do(func() {
		dir := testenv.ModelsDir("embedding")
		if _, err := models.Path(dir, "embedding"); err != nil {
			pipeErr = err
			return
		}
		pipe, pipeErr = diarize.New(diarize.DefaultConfig(dir).WithThreads(2))
	})
	if pipeErr != nil {
		t.Skipf("models not installed (run `make setup`): %v", pipeErr)
	}
	return pipe
}

func load(t testing.TB, path string) *audio.Audio {
	t.Helper()
	a, err := audio.Open(context.Background(), path, audio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// protoRow is one line of speakers/speaker_id_protocol.tsv.
type protoRow struct{ file, speaker, role string }

func protocol(t testing.TB, dev string) []protoRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dev, "speakers", "speaker_id_protocol.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []protoRow
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		c := strings.Split(sc.Text(), "\t")
		if first || len(c) < 4 {
			continue
		}
		rows = append(rows, protoRow{file: filepath.Join(dev, c[0]), speaker: c[1], role: c[3]})
	}
	return rows
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// annotationOf builds an annotation from (speaker, start, end) triples.
func annotationOf(xs ...any) *annotation.Annotation {
	a := &annotation.Annotation{}
	for i := 0; i+2 < len(xs); i += 3 {
		a.Turns = append(a.Turns, annotation.Turn{Segment: annotation.Segment{Start: toF(xs[i+1]), End: toF(xs[i+2])}, Speaker: xs[i].(string)})
	}
	return a
}

func toF(x any) float64 {
	switch v := x.(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	panic("not a number")
}
