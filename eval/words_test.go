package eval

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadWords(t *testing.T) {
	got, err := ReadWords(strings.NewReader("start\tend\tspeaker\tword\n0.5\t0.9\tA\tsix\n\n1.0\t1.3\tB\tone\n"))
	want := []TimedWord{{0.5, 0.9, "six", "A"}, {1.0, 1.3, "one", "B"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadWords = %v, %v; want %v", got, err, want)
	}
	if _, err := ReadWords(strings.NewReader("h\nx\t0.9\tA\tsix\n")); err == nil {
		t.Error("a bad start time was accepted")
	}
}

func TestReadSTM(t *testing.T) {
	got, err := ReadSTM(strings.NewReader(";; comment\nf 1 Diane 6.68 7.16 <o,f0,female> Oh, hello.\n"))
	want := []TimedWord{{6.68, 7.16, "Oh,", "Diane"}, {6.68, 7.16, "hello.", "Diane"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadSTM = %v, %v; want %v", got, err, want)
	}
}

func TestReadReferenceFile(t *testing.T) {
	dir := t.TempDir()
	stm, tsv := filepath.Join(dir, "a.stm"), filepath.Join(dir, "a.words.tsv")
	if err := os.WriteFile(stm, []byte("f 1 Diane 6.68 7.16 hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tsv, []byte("start\tend\tspeaker\tword\n0.5\t0.9\tA\tsix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]TimedWord{stm: {{6.68, 7.16, "hello", "Diane"}}, tsv: {{0.5, 0.9, "six", "A"}}} {
		if got, err := ReadReferenceFile(path); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ReadReferenceFile(%s) = %v, %v; want %v", filepath.Base(path), got, err, want)
		}
	}
}
