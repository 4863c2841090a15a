package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/audio"
)

// The per-file plumbing diarize and transcribe share.

// eachFile runs fn on every file; a failed file is reported on stderr and the
// others go on, but cancellation stops everything.
func eachFile(cmd *cobra.Command, files []string, fn func(path string) error) error {
	var failed []string
	for _, path := range files {
		if err := fn(path); err != nil {
			if cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			fmt.Fprintf(os.Stderr, "whospoke: %v\n", err)
			failed = append(failed, path)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d files failed", len(failed), len(files))
	}
	return nil
}

// prepareOutput creates the -o folder when several inputs share it.
func prepareOutput(out string, many bool) error {
	if many && out != "" {
		return os.MkdirAll(out, 0o755)
	}
	return nil
}

// openInput opens an input file with the --channel and --max-duration flags.
func openInput(cmd *cobra.Command, path string, channel int, maxDuration time.Duration) (*audio.Audio, error) {
	opt := audio.DefaultOptions()
	opt.Channel, opt.MaxDuration = channel, maxDuration
	return audio.Open(cmd.Context(), path, opt)
}

// fileID names a recording after its file, as RTTM and the per-file outputs do.
func fileID(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// openOutput returns where one file's result goes: standard output, the -o
// file, or <out>/<id>.<format> with several inputs. close must be called.
func openOutput(cmd *cobra.Command, out, id, format string, many bool) (w io.Writer, close func() error, err error) {
	if out == "" {
		return cmd.OutOrStdout(), func() error { return nil }, nil
	}
	name := out
	if many {
		name = filepath.Join(out, id+"."+format)
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// encodeJSON writes v indented, except when several results share standard
// output: then one per line.
func encodeJSON(w io.Writer, v any, out string, many bool) error {
	enc := json.NewEncoder(w)
	if !many || out != "" {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}
