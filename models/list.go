package models

import (
	"fmt"
	"path/filepath"
)

// State is how an installed file (or a model, by its worst file) stands;
// the constants run from worst to best.
type State int

const (
	Corrupt   State = iota // right size, wrong sha256
	WrongSize              // present with the wrong size (or not a regular file)
	Missing                // not there
	Present                // right size, content not checked
	Verified               // sha256 matches the manifest
)

func (s State) String() string {
	switch s {
	case Corrupt:
		return "corrupt"
	case WrongSize:
		return "wrong size"
	case Missing:
		return "missing"
	case Present:
		return "installed"
	case Verified:
		return "verified"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// OK reports whether the file (or model) is usable.
func (s State) OK() bool { return s >= Present }

// FileStatus is the state of one installed file.
type FileStatus struct {
	File
	Local string // absolute path where it is (or would be) installed
	State State
}

// Status is the state of one model in a models folder.
type Status struct {
	Model Model
	Path  string // absolute; what Path returns once the model is installed
	Files []FileStatus
}

// State is the model's worst file state: a model is only as usable as its
// most damaged file.
func (s Status) State() State {
	worst := Verified
	for _, f := range s.Files {
		worst = min(worst, f.State)
	}
	return worst
}

// List reports every manifest model and file in dir, fixtures included. By
// default it checks presence and size; verify also hashes every file.
func List(dir string, verify bool) ([]Status, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	mode := sizeOnly
	if verify {
		mode = rehash
	}
	seen := map[string]State{} // models share licence files: check each once
	var out []Status
	for _, m := range manifest {
		st := Status{Model: m, Path: localPath(dir, File{Path: m.Main})}
		for _, f := range m.Files {
			local := localPath(dir, f)
			s, ok := seen[f.Path]
			if !ok {
				var err error
				if s, err = check(local, f, mode); err != nil {
					return nil, fmt.Errorf("models: %w", err)
				}
				seen[f.Path] = s
			}
			st.Files = append(st.Files, FileStatus{File: f, Local: local, State: s})
		}
		out = append(out, st)
	}
	return out, nil
}
