package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// errNotDir is what opening a/b yields when a is a file: simply no object.
var errNotDir = syscall.ENOTDIR

// Dir is a Store on the local filesystem: root/<team>/<key>. Uploads land
// in root/.tmp first and are renamed into place, so readers never see a
// partial file; a file's modification time is its age for retention.
type Dir struct {
	root string
}

// tmpDir holds in-flight uploads. Team IDs cannot contain '.', so it never
// collides with a team directory.
const tmpDir = ".tmp"

// NewDir returns a Store rooted at root, creating it if needed.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("media: empty directory path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(abs, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("media: create store directory: %w", err)
	}
	return &Dir{root: abs}, nil
}

func (d *Dir) path(team, key string) string {
	return filepath.Join(d.root, team, filepath.FromSlash(key))
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, team, key string, r io.Reader, maxBytes int64) (int64, error) {
	if err := validate(team, key); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(filepath.Join(d.root, tmpDir), "upload-*")
	if err != nil {
		return 0, fmt.Errorf("media: create temp file: %w", err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
	}()

	n, err := io.Copy(f, newLimitReader(ctx, r, maxBytes))
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return n, err
		}
		return n, fmt.Errorf("media: write %s/%s: %w", team, key, err)
	}
	// Sync before rename: after a crash the key holds either the old or
	// the complete new content, never a truncated file.
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("media: sync %s/%s: %w", team, key, err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("media: close %s/%s: %w", team, key, err)
	}
	dst := d.path(team, key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return n, fmt.Errorf("media: create directory for %s/%s: %w", team, key, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return n, fmt.Errorf("media: store %s/%s: %w", team, key, err)
	}
	committed = true
	return n, nil
}

// Open implements Store.
func (d *Dir) Open(ctx context.Context, team, key string) (io.ReadCloser, int64, error) {
	if err := validate(team, key); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(d.path(team, key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			return nil, 0, fmt.Errorf("%w: %s/%s", ErrNotFound, team, key)
		}
		return nil, 0, fmt.Errorf("media: open %s/%s: %w", team, key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("media: stat %s/%s: %w", team, key, err)
	}
	if !st.Mode().IsRegular() {
		// A key that is a prefix of other keys names a directory, not an object.
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s/%s", ErrNotFound, team, key)
	}
	return f, st.Size(), nil
}

// Delete implements Store.
// LocalPath returns the file holding an object, so that readers on this
// machine can use it in place.
func (d *Dir) LocalPath(ctx context.Context, team, key string) (string, error) {
	f, _, err := d.Open(ctx, team, key)
	if err != nil {
		return "", err
	}
	f.Close()
	return d.path(team, key), nil
}

func (d *Dir) Delete(ctx context.Context, team, key string) error {
	if err := validate(team, key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := d.path(team, key)
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			return fmt.Errorf("%w: %s/%s", ErrNotFound, team, key)
		}
		return fmt.Errorf("media: delete %s/%s: %w", team, key, err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("media: delete %s/%s: %w", team, key, err)
	}
	d.pruneDirs(filepath.Dir(p))
	return nil
}

// Usage implements Store.
func (d *Dir) Usage(ctx context.Context, team string) (int64, error) {
	if err := ValidTeam(team); err != nil {
		return 0, err
	}
	var total int64
	err := filepath.WalkDir(filepath.Join(d.root, team), func(p string, e fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist): // no uploads yet, or raced with a Delete
			return nil
		case err != nil:
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case !e.Type().IsRegular():
			return nil
		}
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("media: usage: %w", err)
	}
	return total, nil
}

// DeleteOlderThan implements Store. Abandoned temp files older than t are
// removed too but not counted.
func (d *Dir) DeleteOlderThan(ctx context.Context, t time.Time) (int, error) {
	removed := 0
	var dirs []string
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // raced with a Delete
				return nil
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if e.IsDir() {
			if p != d.root {
				dirs = append(dirs, p)
			}
			return nil
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !info.Mode().IsRegular() || !info.ModTime().Before(t) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if filepath.Dir(p) != filepath.Join(d.root, tmpDir) {
			removed++
		}
		return nil
	})
	// Deepest first, so emptied parents become removable in the same pass.
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i] != filepath.Join(d.root, tmpDir) {
			os.Remove(dirs[i]) // fails harmlessly unless empty
		}
	}
	if err != nil {
		return removed, fmt.Errorf("media: retention sweep: %w", err)
	}
	return removed, nil
}

// pruneDirs removes now-empty directories from dir up to (not including)
// the store root, so deleted keys leave no litter.
func (d *Dir) pruneDirs(dir string) {
	for dir != d.root && len(dir) > len(d.root) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
