package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// ErrChecksum marks a file whose content does not match the manifest; it is
// never left installed.
var ErrChecksum = errors.New("sha256 mismatch")

// Install copies the named models (all of them when names is empty) from
// the folder from into the folder to, checking each file's sha256. Files
// already installed intact are skipped, so a re-run is cheap. One line per
// file goes to progress (which may be nil).
func Install(ctx context.Context, from, to string, names []string, progress io.Writer) error {
	if fi, err := os.Stat(from); err != nil || !fi.IsDir() {
		return fmt.Errorf("models: source %q is not a folder", from)
	}
	return install(ctx, to, names, progress, "copying", func(ctx context.Context, f File) (io.ReadCloser, int64, error) {
		r, err := os.Open(localPath(from, f))
		if err != nil {
			return nil, 0, err
		}
		fi, err := r.Stat()
		if err != nil {
			r.Close()
			return nil, 0, err
		}
		return r, fi.Size(), nil
	})
}

// Pull downloads the named models (all when names is empty) from
// baseURL/<file path> into the folder to, streaming each file through a
// sha256 check. Otherwise it behaves as Install.
func Pull(ctx context.Context, baseURL, to string, names []string, progress io.Writer) error {
	if u, err := url.Parse(baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("models: base URL %q is not an http(s) URL", baseURL)
	}
	return install(ctx, to, names, progress, "fetching", func(ctx context.Context, f File) (io.ReadCloser, int64, error) {
		ref, err := url.JoinPath(baseURL, f.Path)
		if err != nil {
			return nil, 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
		if err != nil {
			return nil, 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, 0, fmt.Errorf("GET %s: %s", ref, resp.Status)
		}
		return resp.Body, resp.ContentLength, nil
	})
}

// Get installs from source, which is either a folder with the models
// folder's layout (as Install) or an http(s) base URL serving it (as Pull):
// the two ways a user outside the project's machines gets the models.
func Get(ctx context.Context, source, to string, names []string, progress io.Writer) error {
	if u, err := url.Parse(source); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return Pull(ctx, source, to, names, progress)
	}
	return Install(ctx, source, to, names, progress)
}

// fetcher opens a manifest file at its source and reports its size (-1 when
// unknown).
type fetcher func(ctx context.Context, f File) (io.ReadCloser, int64, error)

func install(ctx context.Context, to string, names []string, progress io.Writer, verb string, fetch fetcher) error {
	files, err := selectFiles(names)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	var errs []error
	fetched, present := 0, 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		dst := localPath(to, f)
		st, err := check(dst, f, trustStamp)
		if err != nil {
			errs = append(errs, fmt.Errorf("models: %w", err))
			continue
		}
		if st == Verified {
			fmt.Fprintf(progress, "present   %s\n", f.Path)
			present++
			continue
		}
		if st != Missing {
			// A damaged copy must not outlive a failed replacement: the
			// pipeline would load it.
			removeWithStamp(dst)
		}
		fmt.Fprintf(progress, "%-9s %s (%s)\n", verb, f.Path, humanSize(f.Size))
		if err := fetchFile(ctx, dst, f, fetch); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("models: %s: %w", f.Path, err))
			continue
		}
		fetched++
	}
	fmt.Fprintf(progress, "%s: %d installed, %d already present, %d failed\n", to, fetched, present, len(errs))
	return errors.Join(errs...)
}

// selectFiles lists the files of the named models (every model when names is
// empty), each once: models may share a licence file.
func selectFiles(names []string) ([]File, error) {
	if len(names) == 0 {
		names = Names()
	}
	var files []File
	seen := map[string]bool{}
	for _, n := range names {
		m, err := lookup(n)
		if err != nil {
			return nil, err
		}
		for _, f := range m.Files {
			if !seen[f.Path] {
				seen[f.Path] = true
				files = append(files, f)
			}
		}
	}
	return files, nil
}

// fetchFile streams f from its source into a temporary file beside dst,
// hashing on the way, and renames it into place only when size and sha256
// match, so dst is either absent or complete and correct.
func fetchFile(ctx context.Context, dst string, f File, fetch fetcher) (err error) {
	src, size, err := fetch(ctx, f)
	if err != nil {
		return err
	}
	defer src.Close()
	if size >= 0 && size != f.Size {
		return fmt.Errorf("source has %d bytes, want %d: a different version or a damaged file; not installed", size, f.Size)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	// Read one byte past the expected size to notice an overlong source.
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(ctxReader{ctx, src}, f.Size+1))
	if err != nil {
		return err
	}
	if n != f.Size {
		return fmt.Errorf("source gave %d bytes, want %d; not installed", n, f.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("%w: got %s, want %s: the source file is damaged or a different version; not installed", ErrChecksum, sum, f.SHA256)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	if fi, err := os.Stat(dst); err == nil {
		writeStamp(dst, f.SHA256, fi)
	}
	return nil
}

// ctxReader stops a long local copy when the context is cancelled (an HTTP
// body already stops by itself).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// checkMode says how hard check looks at a file's content.
type checkMode int

const (
	sizeOnly   checkMode = iota // stat only: cheap enough for every pipeline start
	trustStamp                  // hash unless a stamp vouches for this size and mtime
	rehash                      // always hash
)

// check reports the state of the installed copy of f at path.
func check(path string, f File, mode checkMode) (State, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Missing, nil
	}
	if err != nil {
		return Missing, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != f.Size {
		return WrongSize, nil
	}
	switch mode {
	case sizeOnly:
		return Present, nil
	case trustStamp:
		if b, err := os.ReadFile(stampPath(path)); err == nil && string(b) == stamp(f.SHA256, fi) {
			return Verified, nil
		}
	}
	sum, err := hashFile(path)
	if err != nil {
		return Missing, err
	}
	if sum != f.SHA256 {
		// Void any stamp that vouched for this file, so the next install
		// replaces it instead of trusting the stamp.
		os.Remove(stampPath(path))
		return Corrupt, nil
	}
	writeStamp(path, sum, fi)
	return Verified, nil
}

func hashFile(path string) (string, error) {
	r, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// A stamp file (".<name>.sha256" beside the file) records a verified sha256
// with the size and mtime it was computed for, so a re-run need not rehash
// hundreds of megabytes; any rewrite of the file changes its mtime and voids
// the stamp.
func stampPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".sha256")
}

func stamp(sum string, fi fs.FileInfo) string {
	return fmt.Sprintf("%s %d %d\n", sum, fi.Size(), fi.ModTime().UnixNano())
}

// writeStamp is best effort: without a stamp the next run just hashes again.
func writeStamp(path, sum string, fi fs.FileInfo) {
	_ = os.WriteFile(stampPath(path), []byte(stamp(sum, fi)), 0o644)
}

func removeWithStamp(path string) {
	os.Remove(path)
	os.Remove(stampPath(path))
}

func humanSize(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
