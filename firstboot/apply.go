package firstboot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"vxway/firstboot/seed"

	"vxway/clock"
	"vxway/journal"
	"vxway/netsettings"
	"vxway/platform"
)

// ErrRefused marks a seed refused because the device is already
// provisioned with another instance_id, or because an earlier boot without
// a seed closed provisioning.
var ErrRefused = errors.New("provisioning seed refused")

// Apply provisions the device under root from its seed, once. Init calls
// it after mounting data and before setting the hostname and bringing up
// the network (which then read what the seed wrote). It prints what it
// does on log (the console): "firstboot: not provisioned (no VXPROV disk)",
// the seed applied, or every problem of a bad seed. It never stops the
// boot: its error, already printed, is for the caller's log.
func Apply(ctx context.Context, root string, log io.Writer) error {
	p := &provisioner{root: root, log: log, clock: clock.Real{}, sources: []Source{&DiskSource{Root: root}}}
	return p.apply(ctx)
}

type provisioner struct {
	root    string
	log     io.Writer
	clock   clock.Clock
	sources []Source
}

func (p *provisioner) logf(format string, args ...any) {
	fmt.Fprintf(p.log, "firstboot: "+format+"\n", args...)
}

// find reads the first source that holds a seed.
func (p *provisioner) find(ctx context.Context) (Source, []byte, error) {
	for _, s := range p.sources {
		b, err := s.Read(ctx)
		if errors.Is(err, ErrNoSeed) {
			continue
		}
		return s, b, err
	}
	return nil, nil, ErrNoSeed
}

func (p *provisioner) apply(ctx context.Context) error {
	if err := p.recover(); err != nil {
		p.logf("%v", err)
		return err
	}
	st, err := LoadState(p.root)
	if err != nil {
		p.logf("%v; not provisioning", err)
		return err
	}
	src, b, err := p.find(ctx)
	now := p.clock.Now().UTC()
	if errors.Is(err, ErrNoSeed) {
		var saveErr error
		switch {
		case st.Provisioned():
			p.logf("provisioned as %s on %s", st.InstanceID, st.AppliedAt.Format(time.RFC3339))
		case st.Closed():
			p.logf("not provisioned (no VXPROV disk); provisioning was closed on %s, a factory reset opens it again", st.ClosedAt.Format(time.RFC3339))
		default:
			// The first boot without a seed closes provisioning, so that a
			// disk attached later cannot set passwords and keys.
			st.ClosedAt = now
			saveErr = saveState(p.root, st)
			p.logf("not provisioned (no VXPROV disk); provisioning is now closed: a seed attached later is refused until a factory reset")
		}
		return errors.Join(saveErr, p.clearAlarms())
	}
	if st.Closed() {
		// Refused whatever it holds: it is not parsed, and a disk that
		// cannot be read is refused alike.
		msg := fmt.Sprintf("refusing the seed from %s: provisioning was closed on %s by the first boot without a seed; detach the disk, or factory reset the device to provision it again",
			src.Name(), st.ClosedAt.Format(time.RFC3339))
		return p.refuse(st, src.Name(), "", msg, now)
	}
	if err != nil {
		return p.reject(st, src.Name(), "", []string{err.Error()}, err)
	}
	id := seed.InstanceID(b)
	if st.Provisioned() {
		if id == st.InstanceID {
			p.logf("seed %s from %s was applied on %s; not applying it again", id, src.Name(), st.AppliedAt.Format(time.RFC3339))
			return p.clearAlarms()
		}
		msg := fmt.Sprintf("refusing seed %q from %s: this device was provisioned as %q on %s; detach the disk, or factory reset the device to provision it again",
			id, src.Name(), st.InstanceID, st.AppliedAt.Format(time.RFC3339))
		return p.refuse(st, src.Name(), id, msg, now)
	}
	sd, err := seed.Parse(b)
	if err == nil {
		var steps []step
		steps, err = p.stage(sd)
		if err == nil {
			return p.commit(st, src.Name(), sd, steps)
		}
	}
	var lines []string
	for _, pr := range seed.Problems(err) {
		lines = append(lines, pr.Error())
	}
	if len(lines) == 0 {
		lines = []string{err.Error()}
	}
	return p.reject(st, src.Name(), id, lines, err)
}

// refuse reports a seed that is not applied because of the device's state
// (alarm 45002); the seed may be perfectly good.
func (p *provisioner) refuse(st *State, src, id, msg string, now time.Time) error {
	p.logf("%s", msg)
	st.Last = &Attempt{At: now, Source: src, InstanceID: id, Result: ResultRefused, Problems: []string{msg}}
	return errors.Join(fmt.Errorf("%w: %s", ErrRefused, msg), p.raise(AlarmSeedRefused, msg), saveState(p.root, st))
}

// reject reports a seed that cannot be applied, problem by problem.
func (p *provisioner) reject(st *State, src, id string, problems []string, cause error) error {
	now := p.clock.Now().UTC()
	p.logf("seed from %s rejected, nothing applied (%d problems):", src, len(problems))
	for _, l := range problems {
		fmt.Fprintf(p.log, "firstboot:   %s\n", l)
	}
	st.Last = &Attempt{At: now, Source: src, InstanceID: id, Result: ResultRejected, Problems: problems}
	detail := fmt.Sprintf("%s: %s", src, problems[0])
	if len(problems) > 1 {
		detail += fmt.Sprintf(" (and %d more; see xstatus Provisioning)", len(problems)-1)
	}
	return errors.Join(cause, p.raise(AlarmSeedRejected, detail), saveState(p.root, st))
}

// step is one change of the device, with the files it may touch (saved
// in the journal first, so a failure or a power cut can put them back).
type step struct {
	name  string
	files []string
	do    func() error
}

func (s step) String() string { return s.name + " (" + strings.Join(s.files, ", ") + ")" }

// pendingLicensing is data/provisioning/licensing.json: what Finish hands to
// the licensing agent once it runs. It holds the token, so it is 0600 and
// removed once the agent has it.
type pendingLicensing struct {
	InstanceID string          `json:"instance_id"`
	Licensing  *seed.Licensing `json:"licensing"`
}

// stage turns a valid seed into steps, after the checks that need the
// device's state. Nothing is changed yet.
func (p *provisioner) stage(s *seed.Seed) ([]step, error) {
	var problems []error
	var steps []step
	bad := func(key, format string, args ...any) {
		problems = append(problems, &seed.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if s.System != nil {
		cur, err := platform.LoadSystemConfig(p.root)
		if err != nil {
			return nil, err
		}
		_, statErr := os.Stat(filepath.Join(p.root, platform.SystemConfigPath))
		fresh := errors.Is(statErr, os.ErrNotExist)
		c := cur
		if s.System.Hostname != "" {
			c.Hostname = s.System.Hostname
		}
		if s.System.Domain != "" {
			c.Domain = s.System.Domain
		}
		if s.System.Type != "" {
			c.Type = s.System.Type
		}
		switch s.System.Brand {
		case platform.BrandExpressway:
			c.Brand, c.SmartLicensingEnabled = platform.BrandExpressway, true
		case platform.BrandVCS:
			if cur.SmartLicensingEnabled && !fresh {
				bad("system.brand", "this device has Smart Licensing on (kept through a factory reset); it cannot become a VCS again")
			}
			c.Brand, c.SmartLicensingEnabled, c.SmartLicensingEnabledAt = platform.BrandVCS, false, time.Time{}
		}
		if s.Licensing != nil && c.Brand != platform.BrandExpressway {
			bad("licensing", "Smart Licensing needs an Expressway; this device is a %s (set system.brand = \"Expressway\")", c.Brand)
		}
		steps = append(steps, step{name: "system", files: []string{platform.SystemConfigPath}, do: func() error {
			return platform.SaveSystemConfig(p.root, c)
		}})
	} else if s.Licensing != nil {
		if cur, err := platform.LoadSystemConfig(p.root); err == nil && cur.Brand != platform.BrandExpressway {
			bad("licensing", "Smart Licensing needs an Expressway; this device is a %s (set system.brand = \"Expressway\")", cur.Brand)
		}
	}
	if s.Network != nil {
		c := *s.Network
		steps = append(steps, step{name: "network", files: []string{netsettings.ConfigPath}, do: func() error {
			return netsettings.Save(p.root, c)
		}})
	}
	if len(s.Users) > 0 {
		info, err := platform.LoadImageInfo(p.root)
		if err != nil && !errors.Is(err, platform.ErrNoImageInfo) {
			return nil, err
		}
		users := platform.NewUsers(p.root, p.clock)
		names := make([]string, 0, len(s.Users))
		for n := range s.Users {
			names = append(names, n)
		}
		sort.Strings(names)
		files := []string{platform.PasswdPath,
			platform.AlarmPath(platform.AlarmDefaultRootPassword),
			platform.AlarmPath(platform.AlarmDefaultAdminPassword)}
		for _, name := range names {
			u := s.Users[name]
			if u.Password != "" && info != nil {
				def := info.PasswordHashes.Admin
				if name == platform.UserRoot {
					def = info.PasswordHashes.Root
				}
				if platform.CheckPassword(def, u.Password) {
					bad("users."+name+".password", "is the default password of the image; choose another")
				}
			}
			steps = append(steps, step{name: "users." + name, files: files, do: func() error {
				switch {
				case u.Password != "":
					if err := users.SetPassword(name, u.Password); err != nil {
						return err
					}
				case u.Hash != "":
					if err := users.SetPasswordHash(name, u.Hash); err != nil {
						return err
					}
				}
				if u.SetKeys {
					if err := users.SetAuthorizedKeys(name, u.AuthorizedKeys); err != nil {
						return err
					}
				}
				return users.SyncAlarms()
			}})
		}
	}
	if s.Licensing != nil {
		b, err := json.MarshalIndent(pendingLicensing{InstanceID: s.InstanceID, Licensing: s.Licensing}, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding the licensing settings: %w", err)
		}
		steps = append(steps, step{name: "licensing", files: []string{LicensingPath}, do: func() error {
			return writeFile(p.root, LicensingPath, append(b, '\n'), 0o600)
		}})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w (%d problems):\n%w", seed.ErrInvalid, len(problems), errors.Join(problems...))
	}
	return steps, nil
}

// commit runs the steps under a journal: every file they may touch is
// saved first; if a step fails, everything is put back, so the seed is
// applied whole or not at all. A power cut in the middle is undone by
// recover on the next boot.
func (p *provisioner) commit(st *State, src string, sd *seed.Seed, steps []step) error {
	now := p.clock.Now().UTC()
	paths := map[string]bool{StatePath: true}
	for _, s := range steps {
		for _, f := range s.files {
			paths[f] = true
		}
	}
	j, err := journal.Begin(p.root, JournalPath, sortedKeys(paths))
	if err != nil {
		return p.failed(st, src, sd.InstanceID, fmt.Errorf("saving the files before provisioning: %w", err))
	}
	applied := &State{InstanceID: sd.InstanceID, Source: src, AppliedAt: now, Summary: sd.Summary(),
		Last: &Attempt{At: now, Source: src, InstanceID: sd.InstanceID, Result: ResultApplied}}
	if sd.Licensing != nil {
		applied.Licensing = LicensingPending
	}
	steps = append(steps, step{name: "state", files: []string{StatePath}, do: func() error { return saveState(p.root, applied) }})
	for _, s := range steps {
		if err := s.do(); err != nil {
			err = fmt.Errorf("applying %s: %w", s.name, err)
			if rerr := j.Rollback(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("putting the files back: %w", rerr))
			}
			return p.failed(st, src, sd.InstanceID, err)
		}
	}
	if err := j.Done(); err != nil {
		p.logf("%v", err)
	}
	p.logf("applied seed %s from %s: %s", sd.InstanceID, src, sd.Summary())
	return p.clearAlarms()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// failed reports a seed that could not be applied; everything was put
// back.
func (p *provisioner) failed(st *State, src, id string, err error) error {
	now := p.clock.Now().UTC()
	p.logf("applying seed %s from %s failed, nothing applied: %v", id, src, err)
	st.Last = &Attempt{At: now, Source: src, InstanceID: id, Result: ResultFailed, Problems: []string{err.Error()}}
	return errors.Join(err, p.raise(AlarmSeedRejected, fmt.Sprintf("%s: applying failed: %v", src, err)), saveState(p.root, st))
}

// recover undoes a provisioning cut short by a power loss: the journal is
// still there, so every file goes back to what it was before.
func (p *provisioner) recover() error {
	n, err := journal.Recover(p.root, JournalPath)
	switch {
	case errors.Is(err, journal.ErrUnreadable):
		p.logf("discarding an unreadable provisioning journal: %v", err)
		return nil
	case err != nil:
		return fmt.Errorf("putting back the files of an interrupted provisioning: %w", err)
	case n > 0:
		p.logf("an earlier provisioning was interrupted; put back %d files", n)
	}
	return nil
}
