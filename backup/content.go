package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"vxway/factoryreset"
	"vxway/login"
	"vxway/netsettings"
	"vxway/platform"
	"vxway/servercert"
)

// Licensing is the licensing agent's part of a backup: its files, which
// only the agent reads and parses (agentclient.Client is one, over the
// agent's socket).
type Licensing interface {
	BackupFiles(ctx context.Context) (map[string][]byte, error)
	CheckBackupFiles(ctx context.Context, files map[string][]byte) error
}

// part is one keep item of the factory reset that a backup holds, with
// its owner's parser of the item's files.
type part struct {
	item factoryreset.Item
	// check loads the item's files below root with the owner's parser;
	// nil for the licensing agent's, which the agent checks itself.
	check func(root string) error
}

// parts are the keep items a backup holds, in the factory reset's order.
// Logs are not configuration; VCS option keys are bound to the serial and
// stay with their device. Brand and type take the whole system.json (with the host
// and domain name), where the factory reset keeps only those fields.
var parts = []part{
	{factoryreset.BrandType, func(root string) error {
		_, err := platform.LoadSystemConfig(root)
		return err
	}},
	{factoryreset.Licensing, nil},
	{factoryreset.FIPS, func(root string) error {
		_, err := platform.LoadFIPSConfig(root)
		return err
	}},
	{factoryreset.Management, func(root string) error {
		_, err := platform.LoadManagementConfig(root)
		return err
	}},
	{factoryreset.IP, func(root string) error {
		_, err := netsettings.Load(root)
		if errors.Is(err, netsettings.ErrNotConfigured) {
			return nil // DHCP by default
		}
		return err
	}},
	{factoryreset.SSHKeys, func(root string) error {
		_, _, err := login.LoadOrMakeHostKey(filepath.Join(root, login.HostKeyDir))
		return err
	}},
	{factoryreset.Certificates, func(root string) error {
		_, _, err := servercert.LoadOrMakeCert(root, "backup-check", time.Now())
		return err
	}},
	{factoryreset.Passwords, func(root string) error {
		return platform.NewUsers(root, nil).Validate()
	}},
}

// patterns are the paths a part covers: a file, or a directory (trailing
// slash) with everything below it. The licensing item's alarm patterns
// are left out: alarms are raised again by their owners from the state.
func (p part) patterns() []string {
	ps := p.item.Paths()
	if p.item == factoryreset.Licensing {
		ps = ps[:1]
	}
	out := make([]string, len(ps))
	for i, kp := range ps {
		out[i] = kp.Pattern
	}
	return out
}

// licensingDir is the agent's directory as the factory reset names it.
func licensingDir() string {
	for _, p := range parts {
		if p.item == factoryreset.Licensing {
			return strings.TrimSuffix(p.patterns()[0], "/")
		}
	}
	panic("backup: no licensing part")
}

// covers reports whether rel is one of the patterns' files.
func covers(patterns []string, rel string) bool {
	for _, pat := range patterns {
		if dir, ok := strings.CutSuffix(pat, "/"); ok {
			if strings.HasPrefix(rel, dir+"/") {
				return true
			}
		} else if rel == pat {
			return true
		}
	}
	return false
}

// allPatterns lists every part's patterns.
func allPatterns() []string {
	var out []string
	for _, p := range parts {
		out = append(out, p.patterns()...)
	}
	return out
}

// filesUnder lists the regular files of the patterns below root, sorted.
func filesUnder(root string, patterns []string) ([]string, error) {
	var out []string
	for _, pat := range patterns {
		abs := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(pat, "/")))
		if !strings.HasSuffix(pat, "/") {
			fi, err := os.Lstat(abs)
			switch {
			case errors.Is(err, os.ErrNotExist):
			case err != nil:
				return nil, fmt.Errorf("reading %s: %w", abs, err)
			case fi.Mode().IsRegular():
				out = append(out, pat)
			}
			continue
		}
		err := filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, os.ErrNotExist) && p == abs {
				return filepath.SkipDir
			}
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				rel, err := filepath.Rel(root, p)
				if err != nil {
					return err
				}
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", abs, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// collect reads the files of every part from the device under root; the
// licensing agent hands over its own.
func collect(ctx context.Context, root string, lic Licensing) ([]File, error) {
	var files []File
	for _, p := range parts {
		if p.check == nil {
			m, err := lic.BackupFiles(ctx)
			if err != nil {
				return nil, fmt.Errorf("getting the licensing settings from the agent: %w", err)
			}
			names := make([]string, 0, len(m))
			for n := range m {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				files = append(files, File{Path: path.Join(licensingDir(), n), Mode: 0o600, Data: m[n]})
			}
			continue
		}
		rels, err := filesUnder(root, p.patterns())
		if err != nil {
			return nil, err
		}
		for _, rel := range rels {
			abs := filepath.Join(root, filepath.FromSlash(rel))
			b, err := os.ReadFile(abs)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", abs, err)
			}
			fi, err := os.Stat(abs)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", abs, err)
			}
			files = append(files, File{Path: rel, Mode: uint32(fi.Mode().Perm()), Data: b})
		}
	}
	return files, nil
}

// ErrInvalid marks an archive whose files do not pass their owners'
// checks.
var ErrInvalid = errors.New("the backup holds settings this device cannot use")

// checkContent parses every file of an archive with its owner's parser:
// the files are written below a scratch directory under root, each part's
// check runs on it, and the licensing agent checks its own. Every problem
// is reported; nothing of the device changes.
func checkContent(ctx context.Context, root string, files []File, lic Licensing) error {
	scratchParent := filepath.Join(root, filepath.FromSlash(stateDir))
	if err := os.MkdirAll(scratchParent, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", scratchParent, err)
	}
	scratch, err := os.MkdirTemp(scratchParent, "check-")
	if err != nil {
		return fmt.Errorf("making a scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	licFiles := map[string][]byte{}
	var problems []error
	for _, f := range files {
		if dir, name := path.Split(f.Path); strings.TrimSuffix(dir, "/") == licensingDir() {
			licFiles[name] = f.Data
			continue
		}
		if !covers(allPatterns(), f.Path) {
			problems = append(problems, fmt.Errorf("%s is not a file of any item a backup holds", f.Path))
			continue
		}
		abs := filepath.Join(scratch, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(abs), err)
		}
		if err := os.WriteFile(abs, f.Data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", abs, err)
		}
	}
	for _, p := range parts {
		if p.check == nil {
			if err := lic.CheckBackupFiles(ctx, licFiles); err != nil {
				problems = append(problems, fmt.Errorf("licensing: %w", err))
			}
			continue
		}
		if err := p.check(scratch); err != nil {
			// Name the files as the archive does, not by the scratch copy.
			msg := strings.ReplaceAll(err.Error(), scratch+string(filepath.Separator), "")
			problems = append(problems, fmt.Errorf("%s: %s", p.item, msg))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(problems...))
	}
	return nil
}
