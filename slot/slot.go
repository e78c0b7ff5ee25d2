// Package slot manages the two system slots on the ESP, A and B, as
// systemd-boot sees them: each slot is a directory /vxway-a or /vxway-b
// holding its kernel, initramfs and manifest, and a Boot Loader
// Specification entry /loader/entries/vxway-a.conf (or vxway-b.conf).
//
// A freshly written slot's entry carries a boot counter (vxway-b+3.conf):
// systemd-boot counts it down at each boot of the entry (vxway-b+2-1.conf,
// ...), sorts an entry with no tries left (vxway-b+0-3.conf) after the
// others, and boots the first entry in its order. Entries carry
// "sort-key vxway" and "version N", where N grows with each install, so
// the newest good slot boots first and a slot that failed its tries falls
// behind the old one. The running system marks its slot good by renaming
// the entry without the counter.
//
// Every function works on an ESP directory given by the caller: the
// mounted ESP on the device, a temporary directory in tests.
package slot

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"vxway/atomicfile"
	"vxway/bundle"
)

// Name is a slot's letter.
type Name string

// The two slots.
const (
	A Name = "a"
	B Name = "b"
)

// ParseName accepts a or b in either case.
func ParseName(s string) (Name, error) {
	switch strings.ToLower(s) {
	case "a":
		return A, nil
	case "b":
		return B, nil
	}
	return "", fmt.Errorf("slot %q: want a or b", s)
}

// ID is the slot's entry id and directory name: vxway-a or vxway-b.
func (n Name) ID() string { return "vxway-" + string(n) }

// Other is the slot that is not n.
func (n Name) Other() Name {
	if n == A {
		return B
	}
	return A
}

// Upper is the slot's letter as the xAPI shows it.
func (n Name) Upper() string { return strings.ToUpper(string(n)) }

// Paths on the ESP (relative to its root).
const (
	LoaderConfPath = "loader/loader.conf"
	EntriesDir     = "loader/entries"
	// ManifestFile is the slot's manifest (the bundle's signed JSON).
	ManifestFile = "manifest.json"
	// CmdlineKey is the kernel parameter that tells the running system
	// which slot it was booted from.
	CmdlineKey = "vxway.slot"
	// SortKey groups the vxway entries for systemd-boot's ordering.
	SortKey = "vxway"
	// DefaultTries is the boot counter a freshly written slot gets.
	DefaultTries = 3
)

// LoaderConf is systemd-boot's loader.conf: no menu, no editor, and the
// first vxway entry in systemd-boot's order (see the package doc).
func LoaderConf() string {
	return "default vxway-*\ntimeout 0\neditor no\n"
}

// Entry is the text of a slot's boot entry: title, ordering, kernel,
// initramfs and the command line with the slot named in it.
func Entry(n Name, version string, seq int, cmdline string) string {
	return fmt.Sprintf("title vxway %s (slot %s)\nsort-key %s\nversion %d\nlinux /%s/%s\ninitrd /%s/%s\noptions %s %s=%s\n",
		version, n.Upper(), SortKey, seq, n.ID(), bundle.PartKernel, n.ID(), bundle.PartInitramfs, cmdline, CmdlineKey, n)
}

// EntryFile is the file name of an entry: vxway-b.conf, vxway-b+3.conf or
// vxway-b+2-1.conf. Tries left below 0 means no counter.
func EntryFile(n Name, left, done int) string {
	switch {
	case left < 0:
		return n.ID() + ".conf"
	case done == 0:
		return fmt.Sprintf("%s+%d.conf", n.ID(), left)
	}
	return fmt.Sprintf("%s+%d-%d.conf", n.ID(), left, done)
}

// BootEntry is an entry found on the ESP.
type BootEntry struct {
	Slot Name
	File string // name in loader/entries
	// TriesLeft and TriesDone are the boot counter; -1 when the entry has
	// none (a slot marked good).
	TriesLeft, TriesDone int
	// Seq is the entry's "version" line: the install sequence number.
	Seq     int
	SortKey string
}

// Bad reports an entry whose tries ran out: systemd-boot sorts it last.
func (e BootEntry) Bad() bool { return e.TriesLeft == 0 }

// Good reports an entry without a counter.
func (e BootEntry) Good() bool { return e.TriesLeft < 0 }

// parseEntryFile splits a file name into slot and counter; ok is false
// for files that are not a vxway slot entry.
func parseEntryFile(file string) (n Name, left, done int, ok bool) {
	base, found := strings.CutSuffix(file, ".conf")
	if !found {
		return "", 0, 0, false
	}
	id, counter, hasCounter := strings.Cut(base, "+")
	switch id {
	case A.ID():
		n = A
	case B.ID():
		n = B
	default:
		return "", 0, 0, false
	}
	if !hasCounter {
		return n, -1, -1, true
	}
	l, d, hasDone := strings.Cut(counter, "-")
	left, err := strconv.Atoi(l)
	if err != nil || left < 0 || l != strconv.Itoa(left) {
		return "", 0, 0, false
	}
	if hasDone {
		done, err = strconv.Atoi(d)
		if err != nil || done < 0 || d != strconv.Itoa(done) {
			return "", 0, 0, false
		}
	}
	return n, left, done, true
}

// ESP is the EFI system partition, mounted at Dir.
type ESP struct {
	Dir string
}

func (e ESP) path(rel string) string { return filepath.Join(e.Dir, rel) }

// Entries lists the slot entries on the ESP in systemd-boot's boot order:
// entries with tries left (or none counted) first, then by sort key, then
// newest install first.
func (e ESP) Entries() ([]BootEntry, error) {
	des, err := os.ReadDir(e.path(EntriesDir))
	if err != nil {
		return nil, fmt.Errorf("listing the boot entries: %w", err)
	}
	var out []BootEntry
	for _, de := range des {
		if de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		n, left, done, ok := parseEntryFile(de.Name())
		if !ok {
			continue
		}
		be := BootEntry{Slot: n, File: de.Name(), TriesLeft: left, TriesDone: done}
		b, err := os.ReadFile(e.path(filepath.Join(EntriesDir, de.Name())))
		if err != nil {
			return nil, fmt.Errorf("reading boot entry %s: %w", de.Name(), err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
			v = strings.TrimSpace(v)
			switch k {
			case "version":
				be.Seq, _ = strconv.Atoi(v)
			case "sort-key":
				be.SortKey = v
			}
		}
		out = append(out, be)
	}
	sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out, nil
}

// less is systemd-boot's order (config_entry_compare of systemd 252) for
// entries that all carry a sort key and a version.
func less(a, b BootEntry) bool {
	if a.Bad() != b.Bad() {
		return b.Bad()
	}
	if a.SortKey != b.SortKey {
		return a.SortKey < b.SortKey
	}
	if a.Seq != b.Seq {
		return a.Seq > b.Seq
	}
	if a.Slot != b.Slot {
		return a.Slot > b.Slot
	}
	if a.TriesLeft != b.TriesLeft {
		return a.TriesLeft > b.TriesLeft
	}
	return a.TriesDone < b.TriesDone
}

// Next is the entry systemd-boot boots next; ok is false when the ESP
// has no slot entry.
func (e ESP) Next() (BootEntry, bool, error) {
	es, err := e.Entries()
	if err != nil || len(es) == 0 {
		return BootEntry{}, false, err
	}
	return es[0], true, nil
}

// Entry returns the slot's entry; ok is false when it has none.
func (e ESP) Entry(n Name) (BootEntry, bool, error) {
	es, err := e.Entries()
	if err != nil {
		return BootEntry{}, false, err
	}
	for _, be := range es {
		if be.Slot == n {
			return be, true, nil
		}
	}
	return BootEntry{}, false, nil
}

// Manifest reads the slot's manifest; ok is false when the slot holds
// none (an empty slot, or one whose install did not finish).
func (e ESP) Manifest(n Name) (*bundle.Manifest, bool, error) {
	p := e.path(filepath.Join(n.ID(), ManifestFile))
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", p, err)
	}
	m, err := bundle.ParseManifest(b)
	if err != nil {
		return nil, false, fmt.Errorf("slot %s: %w", n.Upper(), err)
	}
	return m, true, nil
}

// MarkGood renames the slot's entry without its boot counter, as
// systemd-bless-boot does. An entry already without a counter is left
// alone.
func (e ESP) MarkGood(n Name) error {
	be, ok, err := e.Entry(n)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("slot %s has no boot entry in %s", n.Upper(), EntriesDir)
	}
	if be.Good() {
		return nil
	}
	dir := e.path(EntriesDir)
	if err := os.Rename(filepath.Join(dir, be.File), filepath.Join(dir, EntryFile(n, -1, -1))); err != nil {
		return fmt.Errorf("marking slot %s good: %w", n.Upper(), err)
	}
	return atomicfile.SyncDir(dir)
}

// CmdlineSlot finds vxway.slot=a|b in a kernel command line; ok is false
// when it is not there.
func CmdlineSlot(cmdline string) (Name, bool) {
	for _, f := range strings.Fields(cmdline) {
		if v, found := strings.CutPrefix(f, CmdlineKey+"="); found {
			if n, err := ParseName(v); err == nil {
				return n, true
			}
		}
	}
	return "", false
}
