package supervise

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// RotatingFile is a log file that moves itself aside when it would grow past
// MaxSize: name.log becomes name.log.1, name.log.1 becomes name.log.2, and
// so on up to name.log.<Keep>; the oldest is dropped. It is safe for
// concurrent use (a service's stdout and stderr share one).
type RotatingFile struct {
	Path    string
	MaxSize int64 // bytes; 0 means never rotate
	Keep    int   // rotated files kept besides Path

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Write appends p, rotating first when p would not fit. A single write
// larger than MaxSize goes whole into a fresh file.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.MaxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.MaxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", r.Path, err)
	}
	return n, nil
}

func (r *RotatingFile) open() error {
	if err := os.MkdirAll(filepath.Dir(r.Path), 0o755); err != nil {
		return fmt.Errorf("making the log directory: %w", err)
	}
	f, err := os.OpenFile(r.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening %s: %w", r.Path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("reading the size of %s: %w", r.Path, err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", r.Path, err)
	}
	r.f = nil
	if r.Keep <= 0 {
		if err := os.Remove(r.Path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing %s: %w", r.Path, err)
		}
		return r.open()
	}
	for i := r.Keep - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", r.Path, i)
		to := fmt.Sprintf("%s.%d", r.Path, i+1)
		if err := os.Rename(from, to); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotating %s: %w", from, err)
		}
	}
	if err := os.Rename(r.Path, r.Path+".1"); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("rotating %s: %w", r.Path, err)
	}
	return r.open()
}

// Close closes the current file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
