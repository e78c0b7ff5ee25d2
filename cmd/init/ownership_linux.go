package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"vxway/agentclient"
	"vxway/login"
	"vxway/platform"
	"vxway/sipclient"
)

// dirOwner is who a directory of the device belongs to. Init gives the
// directories to their users at every boot: persist and data keep what an
// older image (which ran everything as root) or root's own commands wrote.
type dirOwner struct {
	path string // below the device root
	uid  int    // of the directory, and of everything in it when own is set
	gid  int
	mode os.FileMode // of the directory
	// own gives the whole tree to uid and gid (a service's private
	// state); otherwise the entries keep their owner, join the group and
	// become group-writable (settings several users change).
	own bool
	// top leaves the entries alone (a runtime directory where each user
	// makes its own files).
	top bool
}

// The literal paths are the agent's (agent.StateDir, agent.AnchorDir),
// which init does not link; a test holds them to the agent's constants.
const (
	agentStateDir  = "data/licensing"
	agentAnchorDir = "persist/licensing"
)

// dirOwners are the directories that do not belong to root alone.
func dirOwners() []dirOwner {
	return []dirOwner{
		{path: agentStateDir, uid: platform.UIDAgent, gid: platform.GIDAgent, mode: 0o700, own: true},
		{path: agentAnchorDir, uid: platform.UIDAgent, gid: platform.GIDAgent, mode: 0o700, own: true},
		{path: filepath.Dir(platform.SystemConfigPath), gid: platform.GIDConfig, mode: os.ModeSetgid | 0o775},
		{path: platform.OptionKeyDir, gid: platform.GIDConfig, mode: os.ModeSetgid | 0o775},
		{path: platform.PersistOptionKeyDir, gid: platform.GIDConfig, mode: os.ModeSetgid | 0o775},
		{path: platform.AlarmDir, gid: platform.GIDAlarms, mode: os.ModeSetgid | 0o775},
		// The SIP credentials: digests, readable by root and the admin
		// shell only.
		{path: filepath.Dir(sipclient.CredentialsPath), gid: platform.GIDConfig, mode: os.ModeSetgid | 0o770},
		// The agent makes its socket here; the sticky bit keeps it from
		// replacing root's files beside it (the network status).
		{path: filepath.Dir(agentclient.SocketPath), gid: platform.GIDAgent, mode: os.ModeSticky | 0o775, top: true},
	}
}

// fixOwnership makes each directory of owners under root (when missing)
// and gives it and its entries their owner; it changes nothing that is
// already right, so it is cheap at every boot. Every problem is returned,
// and the other directories are still done.
func fixOwnership(root string, owners []dirOwner) error {
	var errs []error
	for _, o := range owners {
		if err := o.fix(filepath.Join(root, o.path)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (o dirOwner) fix(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := setOwner(dir, o.uid, o.gid, o.mode); err != nil {
		return err
	}
	if o.top {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if p == dir {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("reading the owner of %s: no stat data", p)
		}
		have := fi.Mode() & permBits
		want := have
		uid := o.uid
		if !o.own {
			uid = int(st.Uid)
			switch {
			case fi.IsDir():
				want |= os.ModeSetgid | 0o070
			case fi.Mode().IsRegular():
				want |= 0o060
			}
		}
		if int(st.Uid) != uid || int(st.Gid) != o.gid {
			if err := os.Lchown(p, uid, o.gid); err != nil {
				return fmt.Errorf("giving %s to %d:%d: %w", p, uid, o.gid, err)
			}
		}
		if fi.Mode()&os.ModeSymlink == 0 && want != have {
			if err := os.Chmod(p, want); err != nil {
				return fmt.Errorf("setting the mode of %s: %w", p, err)
			}
		}
		return nil
	})
}

// permBits are the mode bits chmod sets, as Go reports them (Go's set-id
// and sticky bits are not the Unix ones: os.Chmod translates them).
const permBits = os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky

// setOwner gives the directory dir to uid and gid with mode, when it is not
// already.
func setOwner(dir string, uid, gid int, mode os.FileMode) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid || int(st.Gid) != gid {
		if err := os.Lchown(dir, uid, gid); err != nil {
			return fmt.Errorf("giving %s to %d:%d: %w", dir, uid, gid, err)
		}
	}
	if fi.Mode()&permBits != mode&permBits {
		if err := os.Chmod(dir, mode); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", dir, err)
		}
	}
	return nil
}

// credential is what a program of the device account name runs as: its
// user, primary group and supplementary groups.
func credential(name string) (*syscall.Credential, error) {
	u, err := platform.LookupSystemUser(name)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: append([]uint32{}, u.Groups...)}, nil
}

// deviceAccounts are the login accounts, the admin shell running as the
// admin user. Root's shell stays root: it is the device's superuser
// (factory-reset, passwd, mount).
func deviceAccounts() []login.Account {
	accts := login.DefaultAccounts()
	for i := range accts {
		if accts[i].Name != platform.UserAdmin {
			continue
		}
		cred, err := credential(platform.UserAdmin)
		if err != nil {
			panic(err) // the account table is part of the program
		}
		accts[i].Credential = cred
	}
	return accts
}
