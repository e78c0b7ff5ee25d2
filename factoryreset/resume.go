package factoryreset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"vxway/atomicfile"
	"vxway/clock"
	"vxway/platform"
)

// Disk is the data partition as init manages it. Init implements it with
// mount(2), umount(2) and Debian's mke2fs; tests use a fake. Each method
// must be safe to call again after a power cut interrupted it.
type Disk interface {
	// UnmountData unmounts the data filesystem from <root>/data. Data not
	// being mounted is not an error.
	UnmountData(ctx context.Context) error
	// MakeData writes a new, empty ext4 filesystem on the data partition
	// (mke2fs -F), discarding everything on it. It is called only while
	// data is not mounted. The old content may be damaged or half made.
	MakeData(ctx context.Context) error
	// MountData mounts the data partition on <root>/data, first making
	// the filesystem when the partition is blank (as at first boot). Data
	// being mounted already is not an error.
	MountData(ctx context.Context) error
}

// Resume carries out or finishes a factory reset recorded on persist. Init
// calls it at every boot, once persist is mounted on <root>/persist and
// before any service starts; it is best called before data is mounted, so
// that a data filesystem left half made by a power cut cannot stop the boot.
//
// With no reset pending, Resume only mounts data (Disk.MountData). With one
// pending it saves the kept items on persist, recreates data, restores the
// kept items, applies the reset's outcomes (brand and type) and records the
// result, each phase recorded on persist; after a power cut, the next call
// goes on from the last phase recorded. On return data is mounted whenever
// it can be.
//
// An error means the reset failed: it is recorded in the result, and alarm
// 15013 is raised on data when data is usable. A failure before data was
// touched drops the request (nothing changed); a later one leaves it for
// the next boot to finish. Init should log the error and go on booting.
// Progress lines go to log.
func Resume(ctx context.Context, root string, disk Disk, log io.Writer) error {
	e := &Executor{Root: root, Disk: disk, Log: log, Clock: clock.Real{}}
	return e.Resume(ctx)
}

// Executor carries out reset requests; Resume is its usual use.
type Executor struct {
	Root  string
	Disk  Disk
	Log   io.Writer
	Clock clock.Clock
	// step, when set, is called at every step boundary; tests use it to
	// cut the power there.
	step func(what string)
}

func (e *Executor) at(what string) {
	if e.step != nil {
		e.step(what)
	}
}

func (e *Executor) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, "factory-reset: "+format+"\n", args...)
	}
}

func (e *Executor) alarms() *platform.Alarms { return platform.NewAlarms(e.Root, e.Clock) }

// Resume carries out or finishes the pending reset, as the package-level
// Resume describes.
func (e *Executor) Resume(ctx context.Context) error {
	req, ok, err := ReadRequest(e.Root)
	if err != nil {
		return e.badRequest(ctx, err)
	}
	if !ok {
		if err := e.cleanLeftovers(); err != nil {
			e.logf("%v", err)
		}
		return e.Disk.MountData(ctx)
	}
	plan, err := req.Plan()
	if err != nil {
		return e.badRequest(ctx, err)
	}
	prog, ok, err := ReadProgress(e.Root)
	if err != nil {
		// The progress file is written atomically, so this is damage on
		// persist. Data is wiped only after the manifest is complete, so
		// without a manifest it is still intact.
		e.logf("%v: resuming from what is on persist", err)
		ok = false
	}
	if !ok {
		prog = Progress{Phase: PhaseStaging, Started: e.Clock.Now().UTC()}
		if _, err := os.Stat(filepath.Join(e.Root, ManifestPath)); err == nil {
			prog.Phase = PhaseStaged
		}
	}
	prog.Attempts++
	if err := writeJSON(e.Root, ProgressPath, prog); err != nil {
		return e.fail(ctx, req, prog, err)
	}
	e.at("attempt recorded")
	e.logf("keeping %s; %s (attempt %d)", keepList(req.Keep), prog.Phase.Doing(), prog.Attempts)

	for {
		var next Phase
		switch prog.Phase {
		case PhaseStaging:
			err, next = e.stage(ctx, plan), PhaseStaged
		case PhaseStaged:
			err, next = e.recreate(ctx), PhaseRecreated
		case PhaseRecreated:
			err, next = e.restore(ctx, plan), PhaseRestored
		case PhaseRestored:
			return e.finish(ctx, req, prog)
		}
		if err != nil {
			return e.fail(ctx, req, prog, err)
		}
		prog.Phase = next
		if err := writeJSON(e.Root, ProgressPath, prog); err != nil {
			return e.fail(ctx, req, prog, err)
		}
		e.at("phase " + string(next))
	}
}

// manifest lists what the staging saved; written last, its presence means
// the staging is complete.
type manifest struct {
	Entries []manifestEntry `json:"entries"`
}

type manifestEntry struct {
	Path   string   `json:"path"`             // slash-separated, relative to the root
	Fields []string `json:"fields,omitempty"` // a partial JSON file
}

// stagedPath is where rel is kept while data is recreated.
func (e *Executor) stagedPath(rel string) string {
	return filepath.Join(e.Root, StageDir, "files", filepath.FromSlash(rel))
}

// stage copies the kept items to persist. It starts over from an empty
// stage directory each time, and writes the manifest last.
func (e *Executor) stage(ctx context.Context, plan Plan) error {
	if err := removeSync(e.Root, StageDir); err != nil {
		return err
	}
	e.at("stage cleared")
	if err := e.Disk.MountData(ctx); err != nil {
		return fmt.Errorf("mounting data to save the kept items: %w", err)
	}
	e.at("data mounted for staging")
	var m manifest
	for _, p := range plan.Paths() {
		rels, err := expand(e.Root, p)
		if err != nil {
			return err
		}
		for _, rel := range rels {
			src := filepath.Join(e.Root, filepath.FromSlash(rel))
			dst := e.stagedPath(rel)
			if err := mkdirAllSync(filepath.Dir(dst)); err != nil {
				return err
			}
			if len(p.Fields) > 0 {
				kept, err := pickFields(src, p.Fields)
				if err != nil {
					return err
				}
				b, err := json.Marshal(kept)
				if err != nil {
					return fmt.Errorf("encoding the kept fields of %s: %w", src, err)
				}
				if err := atomicfile.WriteFile(dst, b, 0o600); err != nil {
					return err
				}
				e.at("staged " + rel)
			} else if err := copyTree(src, dst, func(string) { e.at("staged file of " + rel) }); err != nil {
				return err
			}
			m.Entries = append(m.Entries, manifestEntry{Path: rel, Fields: p.Fields})
		}
	}
	if err := writeJSON(e.Root, ManifestPath, m); err != nil {
		return err
	}
	e.logf("saved %d kept paths on persist", len(m.Entries))
	return nil
}

// recreate makes data a new empty filesystem.
func (e *Executor) recreate(ctx context.Context) error {
	e.logf("recreating the data filesystem")
	if err := e.Disk.UnmountData(ctx); err != nil {
		return fmt.Errorf("unmounting data: %w", err)
	}
	e.at("data unmounted")
	if err := e.Disk.MakeData(ctx); err != nil {
		return fmt.Errorf("making the data filesystem: %w", err)
	}
	e.at("data made")
	if err := e.Disk.MountData(ctx); err != nil {
		return fmt.Errorf("mounting the new data filesystem: %w", err)
	}
	e.at("data mounted")
	return nil
}

// restore puts the staged items back on the new data filesystem and
// applies the outcomes. Everything it writes is synced before it returns.
func (e *Executor) restore(ctx context.Context, plan Plan) error {
	if err := e.Disk.MountData(ctx); err != nil {
		return fmt.Errorf("mounting data to restore the kept items: %w", err)
	}
	var m manifest
	ok, err := readJSON(e.Root, ManifestPath, &m)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the kept items are missing from %s", filepath.Join(e.Root, StageDir))
	}
	for _, en := range m.Entries {
		src := e.stagedPath(en.Path)
		dst := filepath.Join(e.Root, filepath.FromSlash(en.Path))
		if err := mkdirAllSync(filepath.Dir(dst)); err != nil {
			return err
		}
		if len(en.Fields) > 0 {
			if err := e.mergeFields(src, en.Path); err != nil {
				return err
			}
			e.at("restored " + en.Path)
			continue
		}
		if err := copyTree(src, dst, func(string) { e.at("restored file of " + en.Path) }); err != nil {
			return err
		}
	}
	for _, o := range plan.Outcomes() {
		if o, ok := o.(SetServiceSelect); ok {
			if err := platform.ResetServiceSelect(e.Root); err != nil {
				return fmt.Errorf("setting brand %s and type %s: %w", o.Brand, o.Type, err)
			}
			e.at("brand and type set")
		}
	}
	if _, err := platform.LoadSystemConfig(e.Root); err != nil {
		return fmt.Errorf("checking the restored system configuration: %w", err)
	}
	e.logf("restored %d kept paths", len(m.Entries))
	return nil
}

// mergeFields writes the kept fields staged in src over the file rel: its
// current content or, when the reset removed it, the defaults of its owner.
func (e *Executor) mergeFields(src, rel string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	var kept map[string]json.RawMessage
	if err := json.Unmarshal(b, &kept); err != nil {
		return fmt.Errorf("parsing %s: %w", src, err)
	}
	base, err := e.fieldBase(rel)
	if err != nil {
		return err
	}
	for k, v := range kept {
		base[k] = v
	}
	out, err := json.MarshalIndent(base, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", rel, err)
	}
	return atomicfile.WriteFile(filepath.Join(e.Root, filepath.FromSlash(rel)), append(out, '\n'), 0o644)
}

// fieldBase is the content a partially kept file starts from.
func (e *Executor) fieldBase(rel string) (map[string]json.RawMessage, error) {
	base := map[string]json.RawMessage{}
	p := filepath.Join(e.Root, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("reading %s: %w", p, err)
	case rel == platform.SystemConfigPath:
		c, err := platform.LoadSystemConfig(e.Root) // the defaults: the file is gone
		if err != nil {
			return nil, err
		}
		if b, err = json.Marshal(c); err != nil {
			return nil, fmt.Errorf("encoding the default system configuration: %w", err)
		}
	default:
		return base, nil
	}
	if err := json.Unmarshal(b, &base); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", p, err)
	}
	return base, nil
}

// finish records the result and clears the request; removing the request
// is the moment the reset is done.
func (e *Executor) finish(ctx context.Context, req Request, prog Progress) error {
	res := Result{Result: ResultDone, Time: e.Clock.Now().UTC(), Requested: req.Requested, Brand: req.Brand, Keep: req.Keep}
	if err := writeJSON(e.Root, ResultPath, res); err != nil {
		return e.fail(ctx, req, prog, err)
	}
	e.at("result written")
	if err := removeSync(e.Root, RequestPath); err != nil {
		return e.fail(ctx, req, prog, err)
	}
	e.at("request removed")
	if err := e.cleanLeftovers(); err != nil {
		e.logf("%v", err) // the reset is done; leftovers go at the next boot
	}
	e.logf("done, kept %s", keepList(req.Keep))
	return e.Disk.MountData(ctx)
}

// cleanLeftovers removes the stage and progress of a finished reset.
func (e *Executor) cleanLeftovers() error {
	if err := removeSync(e.Root, StageDir); err != nil {
		return err
	}
	e.at("stage removed")
	if err := removeSync(e.Root, ProgressPath); err != nil {
		return err
	}
	e.at("progress removed")
	return nil
}

// fail records a failure. Before data is touched the request is dropped
// (nothing changed); after, it stays for the next boot, with the kept
// items safe on persist.
func (e *Executor) fail(ctx context.Context, req Request, prog Progress, cause error) error {
	if errors.Is(cause, syscall.ENOSPC) && prog.Phase == PhaseStaging {
		cause = fmt.Errorf("%w: persist has no room for the kept items; run factory-reset again keeping fewer items (logs are the largest)", cause)
	}
	retry := prog.Phase != PhaseStaging
	res := Result{Result: ResultFailed, Time: e.Clock.Now().UTC(), Requested: req.Requested, Brand: req.Brand, Keep: req.Keep, Reason: cause.Error(), Retrying: retry}
	var reason string
	if retry {
		prog.LastError = cause.Error()
		if err := writeJSON(e.Root, ProgressPath, prog); err != nil {
			e.logf("%v", err)
		}
		reason = fmt.Sprintf("while %s: %v; the kept items are safe on persist and the reset is retried at the next boot", prog.Phase.Doing(), cause)
	} else {
		reason = fmt.Sprintf("while %s: %v; nothing was changed", prog.Phase.Doing(), cause)
	}
	res.Reason = reason
	if err := writeJSON(e.Root, ResultPath, res); err != nil {
		e.logf("%v", err)
	}
	if !retry {
		if err := removeSync(e.Root, RequestPath); err != nil {
			e.logf("%v", err)
		}
		if err := e.cleanLeftovers(); err != nil {
			e.logf("%v", err)
		}
	}
	e.logf("failed %s", reason)
	e.raiseFailed(ctx, reason)
	return fmt.Errorf("factory reset failed %s", reason)
}

// badRequest handles a request file this software cannot carry out: it is
// moved aside and the failure recorded. Data has not been touched: a
// request is read before anything else happens.
func (e *Executor) badRequest(ctx context.Context, cause error) error {
	reason := fmt.Sprintf("the reset request cannot be read (%v); it was moved to %s.bad and nothing was changed", cause, RequestPath)
	_, started, _ := ReadProgress(e.Root)
	if started {
		reason = fmt.Sprintf("the reset request cannot be read (%v); it was moved to %s.bad and the reset cannot go on: the staged items are left in %s.bad; reinstall the device", cause, RequestPath, StageDir)
	}
	p := filepath.Join(e.Root, RequestPath)
	if err := os.Rename(p, p+".bad"); err != nil {
		e.logf("moving %s aside: %v", p, err)
	}
	if started {
		// Keep what was staged out of the way of the next boot's cleanup.
		stage := filepath.Join(e.Root, StageDir)
		if err := os.Rename(stage, stage+".bad"); err != nil && !errors.Is(err, os.ErrNotExist) {
			e.logf("moving %s aside: %v", stage, err)
		}
	}
	if err := e.cleanLeftovers(); err != nil {
		e.logf("%v", err)
	}
	res := Result{Result: ResultFailed, Time: e.Clock.Now().UTC(), Reason: reason}
	if err := writeJSON(e.Root, ResultPath, res); err != nil {
		e.logf("%v", err)
	}
	e.logf("failed: %s", reason)
	e.raiseFailed(ctx, reason)
	return fmt.Errorf("factory reset failed: %s", reason)
}

// raiseFailed mounts data if it can and raises 15013 there, clearing the
// 15009 raised when the reset was asked for.
func (e *Executor) raiseFailed(ctx context.Context, reason string) {
	if err := e.Disk.MountData(ctx); err != nil {
		e.logf("data cannot be mounted, alarm 15013 not raised: %v", err)
		return
	}
	a := e.alarms()
	if err := a.Clear(platform.AlarmFactoryResetStarted); err != nil {
		e.logf("%v", err)
	}
	if err := a.Raise(platform.AlarmFactoryResetFailed, reason); err != nil {
		e.logf("raising alarm 15013: %v", err)
	}
}
