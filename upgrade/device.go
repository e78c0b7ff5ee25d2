package upgrade

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"vxway/bundle"
	"vxway/clock"
	"vxway/platform"
	"vxway/slot"
)

// AlarmFailed is raised by the old version when a new one used up its
// boot tries (the 46000 range is not in the vendor's list).
const AlarmFailed = 46001

var alarmFailedInfo = platform.AlarmInfo{
	Severity: platform.SeverityError,
	Title:    "Software upgrade failed: the new version did not start, the previous one is running",
	Action:   "Check the release and try the upgrade again (xstatus SystemUnit Software shows the result)",
}

// Refusals: a bundle refused for one of these changes nothing.
var (
	ErrNoTrustedKey = errors.New("this image trusts no upgrade key")
	ErrOtherProduct = errors.New("bundle is for another product")
	ErrDowngrade    = errors.New("bundle version is below the minimum version")
	ErrBusy         = errors.New("another upgrade is running")
)

// Mounter gives access to the ESP.
type Mounter interface {
	// MountESP mounts the ESP, read-write when writable is set, and
	// returns its directory and a function that unmounts it.
	MountESP(ctx context.Context, writable bool) (dir string, release func() error, err error)
}

// Device is the device as an upgrade sees it.
type Device struct {
	Root  string
	ESP   Mounter
	Clock clock.Clock
	// Log gets progress lines (the console, the admin's terminal).
	Log io.Writer
}

func (d *Device) clock() clock.Clock {
	if d.Clock == nil {
		return clock.Real{}
	}
	return d.Clock
}

func (d *Device) logf(format string, args ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, format+"\n", args...)
	}
}

// CmdlinePath is the kernel command line, below the root.
const CmdlinePath = "proc/cmdline"

// Running reports the slot the system was booted from (vxway.slot= on the
// kernel command line; slot A for an image without it).
func Running(root string) slot.Name {
	b, err := os.ReadFile(filepath.Join(root, CmdlinePath))
	if err == nil {
		if n, ok := slot.CmdlineSlot(string(b)); ok {
			return n
		}
	}
	return slot.A
}

// Options of an install.
type Options struct {
	// AllowDowngrade installs a version below the recorded minimum.
	AllowDowngrade bool
	// Progress, when set, is called after each step of the slot write
	// (tests cut the power there).
	Progress func(slot.Step, string)
}

// Install checks the bundle file at path and writes it into the slot that
// is not running, which then boots next on trial. Every check comes
// before the first write: signature and key, size, product, minimum
// version, the hash of every part. It returns the manifest installed.
func (d *Device) Install(ctx context.Context, path string, o Options) (*bundle.Manifest, error) {
	info, err := platform.LoadImageInfo(d.Root)
	if err != nil {
		return nil, err
	}
	keys, err := info.UpgradeKeys()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: it was built without [upgrade] keys", ErrNoTrustedKey)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the bundle: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	st, err := LoadState(d.Root)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	b, err := Check(f, fi.Size(), keys, info.Product, st.MinVersion, o.AllowDowngrade)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	d.logf("upgrade: %s (build %d) signed by key %s: signature, manifest and hashes verified in %s", m.Version, m.BuildEpoch, b.KeyID, since(t0))

	dir, release, err := d.ESP.MountESP(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("mounting the ESP: %w", err)
	}
	defer release()
	esp := slot.ESP{Dir: dir}
	running := Running(d.Root)
	target := running.Other()
	if target == running {
		return nil, fmt.Errorf("refusing to write the running slot %s", running.Upper())
	}
	now := d.clock().Now().UTC()
	st.Last = &Attempt{Version: m.Version, From: info.SoftwareVersion, Slot: target.Upper(), Started: now, Result: ResultWriting}
	if err := SaveState(d.Root, st); err != nil {
		return nil, err
	}
	var files []slot.File
	for _, p := range m.Parts {
		r, err := b.Reader(p.Name)
		if err != nil {
			return nil, err
		}
		files = append(files, slot.File{Part: p, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(r, 0, r.Size())), nil
		}})
	}
	d.logf("upgrade: writing slot %s (running: slot %s, %s)", target.Upper(), running.Upper(), info.SoftwareVersion)
	t1 := time.Now()
	err = esp.Write(slot.Install{
		Slot: target, Version: m.Version, Cmdline: m.Cmdline, Manifest: b.RawManifest, Files: files,
	}, o.Progress)
	if err != nil {
		st.Last.Result, st.Last.Reason, st.Last.Finished = ResultInterrupted, err.Error(), d.clock().Now().UTC()
		if serr := SaveState(d.Root, st); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, fmt.Errorf("writing slot %s: %w (slot %s, running, is unchanged)", target.Upper(), err, running.Upper())
	}
	st.Last.Result = ResultPending
	if err := SaveState(d.Root, st); err != nil {
		return nil, err
	}
	if err := d.snapshot(esp, running); err != nil {
		d.logf("upgrade: %v", err)
	}
	d.logf("upgrade: slot %s holds %s, written, read back and verified in %s; it boots next with %d tries", target.Upper(), m.Version, since(t1), slot.DefaultTries)
	return m, nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// Check opens and verifies a bundle of size bytes: trusted signature,
// exact size, product, not below minVersion (unless allowDowngrade), and
// the hash of every part.
func Check(r io.ReaderAt, size int64, keys []ed25519.PublicKey, product, minVersion string, allowDowngrade bool) (*bundle.Bundle, error) {
	b, err := bundle.Open(r, size, keys)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	if m.Product != product {
		return nil, fmt.Errorf("%w: it is for %q, this device is %q", ErrOtherProduct, m.Product, product)
	}
	if minVersion != "" && bundle.CompareVersions(m.Version, minVersion) < 0 && !allowDowngrade {
		return nil, fmt.Errorf("%w: %s is below %s, the minimum recorded on persist (%s); to install it on purpose, run `upgrade --allow-downgrade FILE` as root", ErrDowngrade, m.Version, minVersion, StatePath)
	}
	if err := b.Verify(); err != nil {
		return nil, err
	}
	return b, nil
}

// Confirm runs once the device is ready and its services are up: it marks
// the running slot good (dropping its boot counter), finishes the record
// of a pending upgrade (installed, or failed with alarm AlarmFailed when
// the new slot used up its tries, or interrupted), and writes the slot
// snapshot for xstatus.
func (d *Device) Confirm(ctx context.Context) error {
	running := Running(d.Root)
	// The ESP is mounted read-write only when the running slot's entry
	// still carries a boot counter: a plain boot leaves the FAT clean.
	writable, err := d.onTrial(ctx, running)
	if err != nil {
		return err
	}
	dir, release, err := d.ESP.MountESP(ctx, writable)
	if err != nil {
		return fmt.Errorf("mounting the ESP: %w", err)
	}
	defer release()
	esp := slot.ESP{Dir: dir}
	var errs []error
	if be, ok, err := esp.Entry(running); err != nil {
		errs = append(errs, err)
	} else if ok && !be.Good() {
		if err := esp.MarkGood(running); err != nil {
			errs = append(errs, err)
		} else {
			d.logf("upgrade: slot %s marked good", running.Upper())
		}
	}
	if err := d.finishRecord(esp, running); err != nil {
		errs = append(errs, err)
	}
	if err := d.snapshot(esp, running); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// onTrial reports whether the running slot's entry has a boot counter.
func (d *Device) onTrial(ctx context.Context, running slot.Name) (bool, error) {
	dir, release, err := d.ESP.MountESP(ctx, false)
	if err != nil {
		return false, fmt.Errorf("mounting the ESP: %w", err)
	}
	defer release()
	be, ok, err := slot.ESP{Dir: dir}.Entry(running)
	if err != nil {
		return false, err
	}
	return ok && !be.Good(), nil
}

func (d *Device) finishRecord(esp slot.ESP, running slot.Name) error {
	st, err := LoadState(d.Root)
	if err != nil || st.Last == nil {
		return err
	}
	last := st.Last
	if last.Result != ResultWriting && last.Result != ResultPending {
		return nil
	}
	alarms := platform.NewAlarms(d.Root, d.clock())
	now := d.clock().Now().UTC()
	version := "unknown"
	if info, err := platform.LoadImageInfo(d.Root); err == nil {
		version = info.SoftwareVersion
	}
	target, err := slot.ParseName(last.Slot)
	if err != nil {
		return fmt.Errorf("%s: %w", StatePath, err)
	}
	switch {
	case target == running:
		// The entry is written last, so a slot that booted is complete
		// even when the power went before the record said so.
		last.Result, last.Finished, last.Reason = ResultInstalled, now, ""
		st.MinVersion = last.Version
		d.logf("upgrade: %s installed (from %s)", last.Version, last.From)
		if err := alarms.Clear(AlarmFailed); err != nil {
			return err
		}
	default:
		be, ok, err := esp.Entry(target)
		if err != nil {
			return err
		}
		switch {
		case ok && be.Bad():
			last.Result, last.Finished = ResultFailed, now
			last.Reason = fmt.Sprintf("%s did not start in %d tries; slot %s (%s) was booted again", last.Version, be.TriesDone, running.Upper(), version)
			d.logf("upgrade: %s", last.Reason)
			if err := alarms.RaiseWith(AlarmFailed, alarmFailedInfo, "upgrade", "version "+last.Version+" failed: "+last.Reason); err != nil {
				return err
			}
		case !ok:
			last.Result, last.Finished = ResultInterrupted, now
			if last.Reason == "" {
				last.Reason = fmt.Sprintf("the write of slot %s did not finish; %s kept running", target.Upper(), version)
			}
		default:
			return nil // still on trial: the next boot tries it
		}
	}
	return SaveState(d.Root, st)
}

// snapshot records the slots for xstatus.
func (d *Device) snapshot(esp slot.ESP, running slot.Name) error {
	s := Slots{Running: running.Upper()}
	if next, ok, err := esp.Next(); err != nil {
		return err
	} else if ok {
		s.Next = next.Slot.Upper()
	}
	for _, n := range []slot.Name{slot.A, slot.B} {
		si := SlotInfo{Slot: n.Upper(), State: "empty"}
		m, ok, err := esp.Manifest(n)
		if err != nil {
			return err
		}
		if ok {
			si.Version = m.Version
		}
		be, has, err := esp.Entry(n)
		if err != nil {
			return err
		}
		switch {
		case !has:
		case be.Good():
			si.State = "good"
		case be.Bad():
			si.State = "bad"
		default:
			si.State, si.TriesLeft = "trying", be.TriesLeft
		}
		s.Slots = append(s.Slots, si)
	}
	return saveSlots(d.Root, s)
}
