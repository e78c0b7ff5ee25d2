package platform

import (
	"fmt"
	"strings"
)

// The device's fixed user and group ids. Nothing on the device looks names
// up at run time: init starts programs with these ids and gives directories
// to them, and the image carries /etc/passwd and /etc/group (PasswdFile,
// GroupFile) only so that ps and ls show names.
const (
	// UIDAgent and GIDAgent run the Smart Licensing agent; the agent owns
	// its state directories, and membership of the group lets a program
	// connect to the agent's socket.
	UIDAgent = 200
	GIDAgent = 200
	// UIDAdmin and GIDAdmin run the admin account's xAPI shell.
	UIDAdmin = 1000
	GIDAdmin = 1000
	// GIDConfig owns the directories of the settings the admin shell
	// changes: system.json and network.json, the option keys.
	GIDConfig = 210
	// GIDAlarms owns the alarm directory, written by the agent and the
	// admin shell (Service Select raises and clears alarms).
	GIDAlarms = 211
)

// UserAgent is the account the Smart Licensing agent runs as; it does not
// log in.
const UserAgent = "vxagent"

// SystemUser is one account of /etc/passwd.
type SystemUser struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
	// Groups are the supplementary group ids the account's programs run
	// with.
	Groups []uint32
}

// SystemGroup is one group of /etc/group.
type SystemGroup struct {
	Name    string
	GID     int
	Members []string
}

// SystemUsers are the device's accounts: the two that log in and the
// agent's, which does not.
func SystemUsers() []SystemUser {
	return []SystemUser{
		{Name: UserRoot, UID: 0, GID: 0, Home: "/root", Shell: "/bin/gosh"},
		{Name: UserAgent, UID: UIDAgent, GID: GIDAgent, Home: "/", Shell: "/bin/false", Groups: []uint32{GIDAlarms}},
		{Name: UserAdmin, UID: UIDAdmin, GID: GIDAdmin, Home: "/", Shell: "/bin/xshell", Groups: []uint32{GIDAgent, GIDConfig, GIDAlarms}},
	}
}

// LookupSystemUser returns the account called name.
func LookupSystemUser(name string) (SystemUser, error) {
	for _, u := range SystemUsers() {
		if u.Name == name {
			return u, nil
		}
	}
	return SystemUser{}, fmt.Errorf("%w: %q", ErrUnknownUser, name)
}

// SystemGroups are the device's groups, with the accounts that are
// members beside their primary group.
func SystemGroups() []SystemGroup {
	gs := []SystemGroup{
		{Name: "root", GID: 0},
		{Name: UserAgent, GID: GIDAgent},
		{Name: "vxconfig", GID: GIDConfig},
		{Name: "vxalarms", GID: GIDAlarms},
		{Name: UserAdmin, GID: GIDAdmin},
	}
	for i := range gs {
		for _, u := range SystemUsers() {
			for _, g := range u.Groups {
				if int(g) == gs[i].GID {
					gs[i].Members = append(gs[i].Members, u.Name)
				}
			}
		}
	}
	return gs
}

// PasswdFile is the image's /etc/passwd. Passwords are not in it: the
// platform's users store checks them.
func PasswdFile() []byte {
	var b strings.Builder
	for _, u := range SystemUsers() {
		fmt.Fprintf(&b, "%s:x:%d:%d:%s:%s:%s\n", u.Name, u.UID, u.GID, u.Name, u.Home, u.Shell)
	}
	return []byte(b.String())
}

// GroupFile is the image's /etc/group.
func GroupFile() []byte {
	var b strings.Builder
	for _, g := range SystemGroups() {
		fmt.Fprintf(&b, "%s:x:%d:%s\n", g.Name, g.GID, strings.Join(g.Members, ","))
	}
	return []byte(b.String())
}
