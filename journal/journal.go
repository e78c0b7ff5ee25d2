// Package journal makes a change of several files all or nothing: before
// anything is written, the content of every file the change may touch is
// saved in a journal file (written atomically); if the change fails, or a
// power cut stops it and the next boot finds the journal, every file is put
// back as it was. Provisioning and backup restore apply their changes
// through it.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"vxway/atomicfile"
)

// ErrUnreadable marks a journal file that does not decode. A journal is
// written atomically before anything changes, so such a file means that
// nothing was changed yet; Recover removes it.
var ErrUnreadable = errors.New("unreadable journal")

// Journal is the saved content of every file a change may touch, kept in
// a file below the device root until the change is done.
type Journal struct {
	root string
	rel  string
	data fileFormat
}

// fileFormat is the journal file.
type fileFormat struct {
	Files []SavedFile `json:"files"`
}

// SavedFile is one file as it was before the change: its content and
// mode, or that it did not exist.
type SavedFile struct {
	Path    string      `json:"path"`
	Exists  bool        `json:"exists"`
	Mode    os.FileMode `json:"mode,omitempty"`
	Content []byte      `json:"content,omitempty"`
}

func absent(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Begin saves every file of paths (slash-separated, relative to root) and
// writes the journal to rel (relative to root) before returning: from then
// on, Rollback or Recover can put every one of them back.
func Begin(root, rel string, paths []string) (*Journal, error) {
	seen := map[string]bool{}
	var sorted []string
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			sorted = append(sorted, p)
		}
	}
	sort.Strings(sorted)
	j := &Journal{root: root, rel: rel}
	for _, p := range sorted {
		sf := SavedFile{Path: p}
		abs := filepath.Join(root, filepath.FromSlash(p))
		fi, err := os.Stat(abs)
		switch {
		case err == nil:
			b, err := os.ReadFile(abs)
			if err != nil {
				return nil, fmt.Errorf("saving %s in the journal: %w", p, err)
			}
			sf.Exists, sf.Mode, sf.Content = true, fi.Mode().Perm(), b
		case !absent(err):
			return nil, fmt.Errorf("saving %s in the journal: %w", p, err)
		}
		j.data.Files = append(j.data.Files, sf)
	}
	b, err := json.Marshal(j.data)
	if err != nil {
		return nil, fmt.Errorf("encoding the journal: %w", err)
	}
	jp := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(jp), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(jp), err)
	}
	if err := atomicfile.WriteFile(jp, b, 0o600); err != nil {
		return nil, err
	}
	return j, nil
}

// Files lists the saved files, sorted by path.
func (j *Journal) Files() []SavedFile { return j.data.Files }

// Rollback puts every saved file back (removing those that did not exist)
// and then removes the journal. On error the journal stays, for Recover
// to try again at the next boot.
func (j *Journal) Rollback() error {
	var errs []error
	for _, f := range j.data.Files {
		abs := filepath.Join(j.root, filepath.FromSlash(f.Path))
		if f.Exists {
			if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := atomicfile.WriteFile(abs, f.Content, f.Mode); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := os.Remove(abs); err != nil && !absent(err) {
			errs = append(errs, fmt.Errorf("removing %s: %w", abs, err))
		} else if err == nil {
			if err := atomicfile.SyncDir(filepath.Dir(abs)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return j.Done()
}

// Done removes the journal: the change is complete and stays.
func (j *Journal) Done() error { return remove(j.root, j.rel) }

func remove(root, rel string) error {
	jp := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.Remove(jp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", jp, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(jp)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Recover undoes a change cut short by a power loss: when the journal rel
// exists below root, every file it saved is put back and the journal is
// removed. It reports how many files were put back (0 and nil without a
// journal). A journal that does not decode is removed and reported with
// ErrUnreadable: nothing had been changed yet.
func Recover(root, rel string) (int, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the journal %s: %w", rel, err)
	}
	j := &Journal{root: root, rel: rel}
	if err := json.Unmarshal(b, &j.data); err != nil {
		if rerr := remove(root, rel); rerr != nil {
			return 0, rerr
		}
		return 0, fmt.Errorf("%w %s (discarded): %v", ErrUnreadable, rel, err)
	}
	return len(j.data.Files), j.Rollback()
}
