package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/annotation"
)

// readmeCommand is one `whospoke …` command line of README.md's shell blocks.
type readmeCommand struct {
	line string   // as written
	args []string // after "whospoke", shell comment and pipe removed
}

var whospokeCall = regexp.MustCompile(`(?:^|[\s(])whospoke ([^|)&#]*)`)

// readmeCommands extracts every whospoke call from the fenced sh blocks.
func readmeCommands(t *testing.T) []readmeCommand {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []readmeCommand
	inSh := false
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = !inSh && strings.TrimPrefix(line, "```") == "sh"
			continue
		case !inSh || strings.HasPrefix(strings.TrimSpace(line), "#"):
			continue
		}
		for _, m := range whospokeCall.FindAllStringSubmatch(line, -1) {
			cmds = append(cmds, readmeCommand{line: line, args: strings.Fields(m[1])})
		}
	}
	return cmds
}

// exercisedElsewhere names, for the tour's server commands, the test that
// runs them against a real `whospoke serve` (e2e builds the binary).
var exercisedElsewhere = map[string]string{
	"keys create":            "createKey", // e2e/helpers_test.go, used by every e2e test
	"serve":                  "TestStreamCommand",
	"stream":                 "TestStreamCommand",
	"stream --transcription": "TestStreamTranscriptionCommand",
}

// TestReadmeTour checks that every whospoke command in README.md is a real
// command with real flags, runs the offline ones (diarize, eval,
// transcribe, on the sample the tour uses) and checks that a named test
// runs each server one.
func TestReadmeTour(t *testing.T) {
	mdir, _ := shared(t)
	sample, err := filepath.Abs(filepath.Join(mdir, "test-audio", "pyannote-sample"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(t)
	if len(cmds) < 9 {
		t.Fatalf("found only %d whospoke commands in README.md", len(cmds))
	}
	tests := testFuncs(t)
	t.Chdir(t.TempDir()) // the tour writes sample.rttm, sample.json, sample.svg here
	for _, c := range cmds {
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = strings.ReplaceAll(a, "$SAMPLE", sample)
		}
		cmd, name := checkFlags(t, c, args)
		if cmd == nil {
			continue
		}
		if strings.Contains(c.line, "--transcription") {
			name += " --transcription"
		}
		switch cmd.Name() {
		case "diarize", "eval", "transcribe":
			out, err := run(t, args...)
			if err != nil {
				t.Errorf("%s: %v", c.line, err)
			}
			checkTourOutput(t, c.line, out)
		default:
			test, ok := exercisedElsewhere[name]
			if !ok || !tests[test] {
				t.Errorf("README runs %q, which no test named in exercisedElsewhere runs (%q)", c.line, test)
			}
		}
	}
}

// checkFlags finds the command a README line runs and checks each of its
// flags exists; it returns the command and its name ("keys create").
func checkFlags(t *testing.T, c readmeCommand, args []string) (*cobra.Command, string) {
	t.Helper()
	cmd, _, err := rootCmd.Find(args)
	if err != nil || cmd == rootCmd {
		t.Errorf("README: %q is not a whospoke command (%v)", c.line, err)
		return nil, ""
	}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := cmd.Flags().Lookup(name); f == nil && (len(name) != 1 || cmd.Flags().ShorthandLookup(name) == nil) {
			t.Errorf("README: %q uses %s, which %s does not have", c.line, a, cmd.CommandPath())
		}
	}
	return cmd, strings.TrimPrefix(cmd.CommandPath(), "whospoke ")
}

// checkTourOutput checks what the offline tour commands print and write.
func checkTourOutput(t *testing.T, line, out string) {
	t.Helper()
	switch {
	case strings.Contains(line, "--format txt") && strings.Contains(line, "diarize"):
		if !regexp.MustCompile(`(?m)^\[00:00:\d\d\.\d{3} - 00:00:\d\d\.\d{3}\] SPEAKER_0\d \(\d+\.\d s\)$`).MatchString(out) {
			t.Errorf("%s printed no readable turns:\n%s", line, out)
		}
	case strings.Contains(line, "-o sample.rttm"):
		f, err := os.Open("sample.rttm")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if anns, err := annotation.ReadRTTM(f); err != nil || len(anns) != 1 || len(anns[0].Turns) == 0 {
			t.Errorf("%s: sample.rttm: %v %v", line, anns, err)
		}
	case strings.Contains(line, "--plot sample.svg"):
		for _, f := range []string{"sample.json", "sample.svg"} {
			if st, err := os.Stat(f); err != nil || st.Size() == 0 {
				t.Errorf("%s did not write %s: %v", line, f, err)
			}
		}
	case strings.Contains(line, "eval"):
		if !strings.Contains(out, "sample") || !strings.Contains(out, "DER") {
			t.Errorf("%s printed no DER for sample:\n%s", line, out)
		}
	case strings.Contains(line, "transcribe"):
		if !regexp.MustCompile(`(?m)^\[00:00:\d\d\.\d{3}\] SPEAKER_0\d: \S`).MatchString(out) {
			t.Errorf("%s printed no speaker-attributed lines:\n%s", line, out)
		}
	}
}

// testFuncs lists the functions of the repository's e2e tests, so that
// exercisedElsewhere cannot name one that does not exist.
func testFuncs(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "e2e", "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no e2e tests found: %v", err)
	}
	funcs := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (\w+)\(`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			funcs[m[1]] = true
		}
	}
	return funcs
}

// TestReadmePackageMap checks that README.md's package table lists every
// package directory of the repository, and nothing else.
func TestReadmePackageMap(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9/]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		listed[m[1]] = true
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	found := map[string]bool{}
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			found[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	for p := range found {
		if !listed[p] {
			t.Errorf("package %s is missing from README.md's package table", p)
		}
	}
	for p := range listed {
		if !found[p] {
			t.Errorf("README.md's package table lists %s, which is not a package directory", p)
		}
	}
}
