package eval

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/whospoke/whospoke/annotation"
)

// ScorePaths loads reference and hypothesis RTTMs (each a file or a
// directory of *.rttm files) and an optional UEM (empty path: none; a file;
// or a directory holding <uri>.uem for some reference files) and scores
// them with Score.
func ScorePaths(refPath, hypPath, uemPath string, opt Options) (Report, error) {
	refs, err := ReadRTTMPath(refPath)
	if err != nil {
		return Report{}, err
	}
	if len(refs) == 0 {
		return Report{}, fmt.Errorf("eval: no SPEAKER turns in reference %s", refPath)
	}
	hyps, err := ReadRTTMPath(hypPath)
	if err != nil {
		return Report{}, err
	}
	var uems map[string]annotation.Timeline
	if uemPath != "" {
		uris := make([]string, len(refs))
		for i, a := range refs {
			uris[i] = a.URI
		}
		if uems, err = ReadUEMPath(uemPath, uris); err != nil {
			return Report{}, err
		}
	}
	return Score(refs, hyps, uems, opt)
}

// ReadRTTMPath reads the RTTM file at path or, for a directory, every *.rttm
// file directly inside it, in name order.
func ReadRTTMPath(path string) ([]*annotation.Annotation, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	files := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		files = files[:0]
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".rttm") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("eval: no .rttm files in %s", path)
		}
	}
	var out []*annotation.Annotation
	for _, name := range files {
		as, err := readFile(name, annotation.ReadRTTM)
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	return out, nil
}

// ReadUEMPath reads evaluated regions. A file is read whole. From a
// directory, each of uris takes its regions from <dir>/<uri>.uem when that
// file exists (the layout of a reference directory); others get none.
func ReadUEMPath(path string, uris []string) (map[string]annotation.Timeline, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	if !info.IsDir() {
		return readFile(path, annotation.ReadUEM)
	}
	out := map[string]annotation.Timeline{}
	for _, uri := range uris {
		name := filepath.Join(path, uri+".uem")
		uem, err := readFile(name, annotation.ReadUEM)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		regions, ok := uem[uri]
		if !ok {
			// A file named for the uri that does not cover it is a mistake
			// worth stopping for, not a silent fallback to the default.
			return nil, fmt.Errorf("eval: %s has no region for file id %q", name, uri)
		}
		out[uri] = regions
	}
	return out, nil
}

func readFile[T any](name string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(name)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return v, fmt.Errorf("eval: %s: %w", name, err)
	}
	return v, nil
}
