package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"vxway/atomicfile"
	"vxway/clock"
	"vxway/journal"
	"vxway/platform"
)

// Result is the outcome of the last restore, ResultPath.
type Result struct {
	Result          string    `json:"result"` // "Applied" or "Failed"
	At              time.Time `json:"at"`
	Archive         string    `json:"archive"`
	Serial          string    `json:"serial"`
	SoftwareVersion string    `json:"software_version"`
	Created         time.Time `json:"created"`
	SameDevice      bool      `json:"same_device"`
	Files           int       `json:"files"`
	Reason          string    `json:"reason,omitempty"`
}

// The results of a restore.
const (
	ResultApplied = "Applied"
	ResultFailed  = "Failed"
)

// LoadResult reads the outcome of the last restore; nil when none ran.
func LoadResult(root string) (*Result, error) {
	var r Result
	if found, err := atomicfile.ReadJSON(filepath.Join(root, ResultPath), &r); err != nil || !found {
		return nil, err
	}
	return &r, nil
}

// LoadStaged reads the restore waiting for the next boot; nil when none.
func LoadStaged(root string) (*Staged, error) {
	var s Staged
	if found, err := atomicfile.ReadJSON(filepath.Join(root, StagedPath), &s); err != nil || !found {
		return nil, err
	}
	return &s, nil
}

// Resume applies a staged restore. Init calls it at boot once data is
// mounted and before provisioning, the network or any service reads the
// configuration. Every file the restore may touch (the files of the
// backed-up items now on the device, and those of the archive) is saved
// in a journal first; the items' files are then replaced by the archive's.
// A failure puts everything back; a power cut leaves the journal, and the
// next boot puts everything back and applies the staged restore again, so
// the device ends with the whole backup or none of it. It prints what it
// does on log (the console).
func Resume(root string, log io.Writer, c clock.Clock) error {
	if c == nil {
		c = clock.Real{}
	}
	logf := func(format string, args ...any) { fmt.Fprintf(log, "backup: "+format+"\n", args...) }
	n, err := journal.Recover(root, JournalPath)
	switch {
	case errors.Is(err, journal.ErrUnreadable):
		logf("%v", err)
	case err != nil:
		logf("an interrupted restore could not be undone: %v", err)
		return err
	case n > 0:
		logf("an interrupted restore was undone (%d files put back); applying it again", n)
	}
	st, err := LoadStaged(root)
	if err != nil {
		logf("%v; removing it, nothing restored", err)
		return errors.Join(err, Cancel(root))
	}
	if st == nil {
		return nil
	}
	res := Result{Archive: st.Archive, Serial: st.Serial, SoftwareVersion: st.SoftwareVersion, Created: st.Created,
		SameDevice: st.SameDevice, Files: len(st.Files)}
	if err := apply(root, st); err != nil {
		res.Result, res.At, res.Reason = ResultFailed, c.Now().UTC(), err.Error()
		logf("restoring %s failed, nothing changed: %v", st.Archive, err)
		return errors.Join(err, saveResult(root, res), Cancel(root))
	}
	res.Result, res.At = ResultApplied, c.Now().UTC()
	if err := saveResult(root, res); err != nil {
		logf("%v", err)
	}
	if err := Cancel(root); err != nil {
		logf("%v", err)
	}
	if st.SameDevice {
		logf("restored %s (%d files, made %s by %s): registration restored", st.Archive, len(st.Files), st.Created.Format(time.RFC3339), st.SoftwareVersion)
	} else {
		logf("restored %s (%d files) from device %s: settings restored; the registration stays with that device, register this one with a new token", st.Archive, len(st.Files), st.Serial)
	}
	return nil
}

// apply replaces the backed-up items' files with the archive's under a
// journal.
func apply(root string, st *Staged) error {
	current, err := filesUnder(root, allPatterns())
	if err != nil {
		return err
	}
	paths := append([]string{}, current...)
	keep := map[string]bool{}
	for _, f := range st.Files {
		paths = append(paths, f.Path)
		keep[f.Path] = true
	}
	j, err := journal.Begin(root, JournalPath, paths)
	if err != nil {
		return err
	}
	if err := write(root, current, keep, st.Files); err != nil {
		if rerr := j.Rollback(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("putting the files back: %w", rerr))
		}
		return err
	}
	// The default-password alarms follow the restored passwords.
	if err := platform.NewUsers(root, nil).SyncAlarms(); err != nil {
		if rerr := j.Rollback(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("putting the files back: %w", rerr))
		}
		return err
	}
	return j.Done()
}

func write(root string, current []string, keep map[string]bool, files []File) error {
	for _, rel := range current {
		if keep[rel] {
			continue
		}
		abs := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.Remove(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", abs, err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(abs)); err != nil {
			return err
		}
	}
	for _, f := range files {
		abs := filepath.Join(root, filepath.FromSlash(f.Path))
		perm := os.FileMode(0o755)
		if path.Dir(f.Path) == licensingDir() {
			perm = 0o700 // as the agent makes it
		}
		if err := os.MkdirAll(filepath.Dir(abs), perm); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(abs), err)
		}
		if err := atomicfile.WriteFile(abs, f.Data, os.FileMode(f.Mode)); err != nil {
			return err
		}
	}
	return nil
}

func saveResult(root string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the restore result: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(root, stateDir), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", stateDir, err)
	}
	return atomicfile.WriteFile(filepath.Join(root, ResultPath), append(b, '\n'), 0o644)
}
