package agent

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"

	"vxway/agentclient"
	"vxway/platform"
)

// The agent's part of a configuration backup (package backup): the files
// of its state directory, handed to root only, and a check of such files
// from an archive with the agent's own parsers. A restore writes them back
// before the agent starts (docs/backup.md); the agent then adopts them,
// keeping the registration only on the device that made it.

// backupFiles are the files of StateDir a backup holds, by name.
var backupFiles = []string{path.Base(configFile), path.Base(stateFile), path.Base(keyFile), path.Base(clusterFile)}

// BackupFiles returns the agent's files as they are on disk, after
// writing the state held in memory: the settings, the registration and
// the reservation, the identity key and the cluster settings (not the
// loans: they belong to the running cluster).
func (a *Agent) BackupFiles() (map[string][]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.saveLocked(); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, name := range backupFiles {
		p := filepath.Join(a.root, StateDir, name)
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		files[name] = b
	}
	return files, nil
}

// CheckBackupFiles parses files of the agent's state directory from a
// backup, by name, as the agent would load them; every problem is
// reported.
func CheckBackupFiles(files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var problems []error
	for _, name := range names {
		b, p := files[name], path.Join(StateDir, name)
		var err error
		switch name {
		case path.Base(stateFile):
			_, err = parseState(b, p)
		case path.Base(configFile):
			_, err = parseConfig(b, p)
		case path.Base(keyFile):
			_, err = parseKey(b, p)
		case path.Base(clusterFile):
			_, err = parseClusterConfig(b, p)
		default:
			err = fmt.Errorf("%s is not a file of the licensing agent (it keeps %v)", p, backupFiles)
		}
		if err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// ForeignWarning is the warning a device shows when its licensing state
// came from another device (%s: that device's serial).
const ForeignWarning = "The licensing settings were restored from device %s; its registration stays with that device. Register this device with a new token."

// adoptLocked makes the loaded state this device's. A state that names
// another device's serial keeps its settings (transport, privacy,
// reservation mode) but loses the registration, a pending registration's
// token, the reservation codes and the identity key: they belong to the
// other device, whose registration on the manager is left alone. It
// reports whether the state was another device's.
func (a *Agent) adoptLocked() (bool, error) {
	id, err := platform.StoredIdentity(a.root)
	if err != nil {
		// No identity to compare with (a host test root): nothing to do.
		return false, nil
	}
	from := a.st.Serial
	a.st.Serial = id.Serial
	if from == "" || from == id.Serial {
		return false, nil
	}
	a.st.Registration, a.st.Pending, a.st.Failed, a.st.RegistrationExpired = nil, nil, "", false
	if r := a.st.Reservation; r != nil {
		a.st.Reservation = &ReservationState{Enabled: r.Enabled}
	}
	a.st.Warning = fmt.Sprintf(ForeignWarning, from)
	p := filepath.Join(a.root, keyFile)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return true, fmt.Errorf("removing the other device's key %s: %w", p, err)
	}
	a.logf("licensing: the state was made on device %s; keeping its settings, not its registration (register this device with a new token)", from)
	return true, a.saveLocked()
}

// peerIsRoot reports whether the request came over the unix socket from a
// process of root (user id 0), as the kernel names the peer (withPeer).
func peerIsRoot(r *http.Request) bool {
	pr, ok := r.Context().Value(peerKey{}).(localPeer)
	return ok && pr.err == nil && pr.uid == 0
}

func (a *Agent) backupRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		if !peerIsRoot(r) {
			reply(w, nil, fmt.Errorf("%w: only root may read the licensing files for a backup", agentclient.ErrNotPermitted))
			return
		}
		files, err := a.BackupFiles()
		reply(w, agentclient.BackupFiles{Files: files}, err)
	})
	mux.HandleFunc("POST /v1/backup/check", func(w http.ResponseWriter, r *http.Request) {
		var c agentclient.BackupFiles
		if !decodeLimit(w, r, &c, agentclient.MaxBackupFiles) {
			return
		}
		if err := CheckBackupFiles(c.Files); err != nil {
			reply(w, nil, fmt.Errorf("%w: %w", agentclient.ErrInvalidConfig, err))
			return
		}
		reply(w, nil, nil)
	})
}
