package slot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"vxway/atomicfile"
	"vxway/bundle"
)

// File is one part to write into a slot.
type File struct {
	Part bundle.Part
	Open func() (io.ReadCloser, error)
}

// Install describes what goes into a slot.
type Install struct {
	Slot     Name
	Version  string // software version, for the entry's title
	Cmdline  string // kernel command line without the slot parameter
	Manifest []byte // the signed manifest, kept in the slot
	Files    []File
	// Tries is the boot counter of the new entry (DefaultTries when 0).
	Tries int
}

// Step is one stage of an install, reported to Progress (and where a
// test cuts the power).
type Step string

// The stages, in order.
const (
	StepEntryRemoved Step = "entry removed"
	StepFileWritten  Step = "file written"
	StepVerified     Step = "read back"
	StepEntryWritten Step = "entry written"
)

// Write installs into the slot, so that a power cut at any moment leaves
// the other slot's entry (the running system) untouched and bootable:
//
//  1. the slot's entry is removed, so a half-written slot is never booted;
//  2. each file is written to a temporary name, synced and renamed;
//  3. each file is read back (from the disk: its cached pages are dropped
//     after the sync) and checked against its manifest hash;
//  4. the manifest is written, then the entry, with a boot counter and a
//     sequence number above every other entry's, so it boots next.
//
// progress, when not nil, is called after each step.
func (e ESP) Write(in Install, progress func(Step, string)) error {
	if progress == nil {
		progress = func(Step, string) {}
	}
	if in.Tries <= 0 {
		in.Tries = DefaultTries
	}
	seq := 1
	es, err := e.Entries()
	if err != nil {
		return err
	}
	for _, be := range es {
		if be.Seq >= seq {
			seq = be.Seq + 1
		}
	}
	if err := e.removeEntries(in.Slot); err != nil {
		return err
	}
	progress(StepEntryRemoved, in.Slot.ID())
	dir := e.path(in.Slot.ID())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// The old manifest goes first: until the new one is written, the slot
	// says it holds nothing.
	if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the old manifest of slot %s: %w", in.Slot.Upper(), err)
	}
	for _, f := range in.Files {
		if err := writeFile(dir, f); err != nil {
			return err
		}
		progress(StepFileWritten, f.Part.Name)
	}
	for _, f := range in.Files {
		p := filepath.Join(dir, f.Part.Name)
		r, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("reading back %s: %w", p, err)
		}
		err = bundle.CheckHash(r, f.Part)
		r.Close()
		if err != nil {
			return fmt.Errorf("reading back slot %s: %w", in.Slot.Upper(), err)
		}
		progress(StepVerified, f.Part.Name)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ManifestFile), in.Manifest, 0o644); err != nil {
		return fmt.Errorf("writing the manifest of slot %s: %w", in.Slot.Upper(), err)
	}
	entries := e.path(EntriesDir)
	tmp := filepath.Join(entries, "."+in.Slot.ID()+".tmp")
	if err := writeSynced(tmp, strings.NewReader(Entry(in.Slot, in.Version, seq, in.Cmdline))); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(entries, EntryFile(in.Slot, in.Tries, 0))); err != nil {
		return fmt.Errorf("writing the boot entry of slot %s: %w", in.Slot.Upper(), err)
	}
	if err := atomicfile.SyncDir(entries); err != nil {
		return err
	}
	progress(StepEntryWritten, EntryFile(in.Slot, in.Tries, 0))
	return nil
}

// removeEntries removes every entry of the slot (with any counter) and
// leftover temporary entries.
func (e ESP) removeEntries(n Name) error {
	dir := e.path(EntriesDir)
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing the boot entries: %w", err)
	}
	removed := false
	for _, de := range des {
		m, _, _, ok := parseEntryFile(de.Name())
		if (!ok || m != n) && de.Name() != "."+n.ID()+".tmp" {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
			return fmt.Errorf("removing boot entry %s: %w", de.Name(), err)
		}
		removed = true
	}
	if removed {
		return atomicfile.SyncDir(dir)
	}
	return nil
}

// writeFile writes one part under a temporary name, syncs it and renames
// it into place.
func writeFile(dir string, f File) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("opening part %s: %w", f.Part.Name, err)
	}
	defer rc.Close()
	tmp := filepath.Join(dir, "."+f.Part.Name+".tmp")
	if err := writeSynced(tmp, rc); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, f.Part.Name)); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return atomicfile.SyncDir(dir)
}

func writeSynced(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	dropCache(f)
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}
