package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"vxway/atomicfile"
	"vxway/clock"
	"vxway/platform"
)

// Dir holds the archives made on the device and those copied onto it,
// below the root; root's SFTP sees this directory only.
const Dir = "data/backup"

// The restore's own files, below the root. The staged restore is written
// whole (atomically) once every check has passed: it is the marker that a
// restore is to be applied at the next boot.
const (
	stateDir    = "data/restore"
	StagedPath  = stateDir + "/staged.json"
	JournalPath = stateDir + "/journal.json"
	ResultPath  = stateDir + "/result.json"
)

// Device is what Create and Restore need of the device.
type Device struct {
	// Root is the device root ("/" on the device).
	Root string
	// Licensing is the licensing agent.
	Licensing Licensing
	// Clock gives the time of a backup (the real clock when nil).
	Clock clock.Clock
	// KDF is the key derivation of new archives (DefaultKDF when its Time
	// is zero); Limits bound the one of archives read (DefaultLimits when
	// MaxTime is zero).
	KDF    KDF
	Limits Limits
}

func (d *Device) clock() clock.Clock {
	if d.Clock == nil {
		return clock.Real{}
	}
	return d.Clock
}

func (d *Device) kdf() KDF {
	if d.KDF.Time == 0 {
		return DefaultKDF
	}
	return d.KDF
}

func (d *Device) limits() Limits {
	if d.Limits.MaxTime == 0 {
		return DefaultLimits
	}
	return d.Limits
}

// identity is the device's serial and software version.
func (d *Device) identity() (serial, version string, err error) {
	id, err := platform.StoredIdentity(d.Root)
	if err != nil {
		return "", "", fmt.Errorf("reading the device identity: %w", err)
	}
	info, err := platform.LoadImageInfo(d.Root)
	if err != nil {
		return "", "", fmt.Errorf("reading the software version: %w", err)
	}
	return id.Serial, info.SoftwareVersion, nil
}

// Made is a backup written by Create.
type Made struct {
	// Path is the archive's absolute path on the device.
	Path  string
	Size  int64
	Files int
}

// Create writes an archive of the device's configuration, encrypted with
// password, into Dir and reports where.
func (d *Device) Create(ctx context.Context, password string) (Made, error) {
	if err := platform.ValidatePassword(password); err != nil {
		return Made{}, fmt.Errorf("backup password: %w", err)
	}
	serial, version, err := d.identity()
	if err != nil {
		return Made{}, err
	}
	files, err := collect(ctx, d.Root, d.Licensing)
	if err != nil {
		return Made{}, err
	}
	now := d.clock().Now().UTC()
	b, err := Seal(Header{SoftwareVersion: version, Serial: serial, Created: now, KDF: d.kdf()}, files, password)
	if err != nil {
		return Made{}, err
	}
	name := fmt.Sprintf("vxway-backup-%s-%s.vxb", serial, now.Format("20060102T150405Z"))
	dir := filepath.Join(d.Root, Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Made{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	p := filepath.Join(dir, name)
	if err := atomicfile.WriteFile(p, b, 0o600); err != nil {
		return Made{}, err
	}
	return Made{Path: filepath.Join("/", Dir, name), Size: int64(len(b)), Files: len(files)}, nil
}

// ErrBadFile marks a File argument that does not name an archive in Dir.
var ErrBadFile = errors.New("bad backup file name")

// fileName is compiled at its first use: its bounded repetition makes a
// large program, which every device program (one binary) would otherwise
// compile at each start.
var fileName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`) })

// archivePath resolves the File argument of a restore: a name in Dir, or
// /data/backup/<name>.
func (d *Device) archivePath(file string) (string, error) {
	name := file
	if rest, ok := strings.CutPrefix(file, "/"+Dir+"/"); ok {
		name = rest
	}
	if !fileName().MatchString(name) {
		return "", fmt.Errorf("%w: %q; give the name of an archive in /%s (copy it there with scp or sftp as root)", ErrBadFile, file, Dir)
	}
	return filepath.Join(d.Root, Dir, name), nil
}

// Staged is a restore checked and waiting for the next boot: the
// archive's header facts and its files.
type Staged struct {
	Archive         string    `json:"archive"`
	Serial          string    `json:"serial"`
	SoftwareVersion string    `json:"software_version"`
	Created         time.Time `json:"created"`
	// SameDevice is whether the archive is this device's own.
	SameDevice bool      `json:"same_device"`
	StagedAt   time.Time `json:"staged_at"`
	Files      []File    `json:"files"`
}

// Restore checks an archive in Dir whole (format, software version,
// password, integrity, every file with its owner's parser) and stages it
// for the next boot, which applies it all or nothing. Any refusal leaves
// the device as it was.
func (d *Device) Restore(ctx context.Context, file, password string) (*Staged, error) {
	p, err := d.archivePath(file)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; copy the archive there first (scp FILE root@DEVICE:)", ErrBadFile, filepath.Join("/", Dir, filepath.Base(p)))
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxArchive+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	serial, version, err := d.identity()
	if err != nil {
		return nil, err
	}
	// The version first: it needs no password, and a newer archive's
	// format may be one this software cannot read.
	h, _, err := ReadHeader(b, d.limits())
	if err != nil {
		return nil, err
	}
	if err := CheckVersion(h.SoftwareVersion, version); err != nil {
		return nil, err
	}
	h, files, err := Open(b, password, d.limits())
	if err != nil {
		return nil, err
	}
	if err := checkContent(ctx, d.Root, files, d.Licensing); err != nil {
		return nil, err
	}
	st := &Staged{Archive: path.Base(p), Serial: h.Serial, SoftwareVersion: h.SoftwareVersion, Created: h.Created,
		SameDevice: h.Serial == serial, StagedAt: d.clock().Now().UTC(), Files: files}
	sb, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding the staged restore: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(d.Root, stateDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", stateDir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(d.Root, StagedPath), sb, 0o600); err != nil {
		return nil, err
	}
	return st, nil
}

// Cancel withdraws a staged restore that has not been applied.
func Cancel(root string) error {
	p := filepath.Join(root, StagedPath)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}
