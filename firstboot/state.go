package firstboot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"vxway/atomicfile"
	"vxway/platform"
)

// Paths on the data partition, relative to the root. All of them go with
// a factory reset, which is what lets a reset device be provisioned again.
const (
	StatePath     = "data/provisioning/state.json"
	JournalPath   = "data/provisioning/journal.json"
	LicensingPath = "data/provisioning/licensing.json"
)

// Results of a provisioning attempt.
const (
	ResultApplied  = "Applied"
	ResultRejected = "Rejected" // the seed has problems; nothing applied
	ResultRefused  = "Refused"  // a different seed on a provisioned device
	ResultFailed   = "Failed"   // applying failed; rolled back
)

// Licensing progress recorded in State.
const (
	LicensingPending    = "Pending"    // waiting for the agent (Finish)
	LicensingConfigured = "Configured" // transport set, no registration asked
	LicensingRegistered = "Registered"
	LicensingRetrying   = "Retrying" // manager unreachable; the agent retries
	LicensingFailed     = "Failed"
)

// State is /data/provisioning/state.json: the seed applied (empty until
// one is), whether provisioning was closed without one, and the outcome of
// the latest boot that found a seed.
type State struct {
	InstanceID string    `json:"instance_id,omitempty"`
	Source     string    `json:"source,omitempty"`
	AppliedAt  time.Time `json:"applied_at,omitzero"`
	Summary    string    `json:"summary,omitempty"`
	// ClosedAt is when the first boot that found no seed closed
	// provisioning: from then on a seed is refused until a factory reset
	// remakes the data partition, and this file with it.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// Licensing is the progress of the seed's [licensing] section, and
	// LicensingDetail why it failed or waits.
	Licensing       string   `json:"licensing,omitempty"`
	LicensingDetail string   `json:"licensing_detail,omitempty"`
	Last            *Attempt `json:"last,omitempty"`
}

// Attempt is one boot's handling of a seed.
type Attempt struct {
	At         time.Time `json:"at"`
	Source     string    `json:"source"`
	InstanceID string    `json:"instance_id,omitempty"`
	Result     string    `json:"result"`
	Problems   []string  `json:"problems,omitempty"`
}

// Provisioned reports whether a seed was applied on this device since its
// data was last made (first boot or factory reset).
func (s *State) Provisioned() bool { return s.InstanceID != "" && !s.AppliedAt.IsZero() }

// Closed reports whether a boot without a seed closed provisioning on a
// device never provisioned (a provisioned device refuses other seeds for
// its own reason).
func (s *State) Closed() bool { return !s.Provisioned() && !s.ClosedAt.IsZero() }

// LoadState reads the provisioning state; a device never provisioned has
// an empty State.
func LoadState(root string) (*State, error) {
	var s State
	if _, err := atomicfile.ReadJSON(filepath.Join(root, StatePath), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func saveState(root string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the provisioning state: %w", err)
	}
	return writeFile(root, StatePath, append(b, '\n'), 0o644)
}

func writeFile(root, rel string, b []byte, perm os.FileMode) error {
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	return atomicfile.WriteFile(p, b, perm)
}

// The alarms provisioning raises. They are not in the vendor's list; the
// 45000 range is free there and kept for provisioning.
const (
	// AlarmSeedRejected: the seed has problems, or applying it failed;
	// nothing was applied. Raised while such a seed is attached.
	AlarmSeedRejected = 45001
	// AlarmSeedRefused: a seed with another instance_id is attached to a
	// device already provisioned, or a seed is attached after provisioning
	// was closed. Raised while it stays attached.
	AlarmSeedRefused = 45002
)

func alarmDefs() map[int]platform.AlarmInfo {
	return map[int]platform.AlarmInfo{
		AlarmSeedRejected: {Severity: platform.SeverityError, Title: "Provisioning seed rejected: nothing was applied",
			Action: "Read the problems on the console or with xstatus Provisioning, fix provision.toml, attach it again and restart"},
		AlarmSeedRefused: {Severity: platform.SeverityWarning, Title: "Provisioning seed refused: the device is already provisioned or its provisioning is closed",
			Action: "Detach the seed disk; to provision the device again, factory reset it first"},
	}
}

// raise raises provisioning alarm id in the platform's alarm store.
func (p *provisioner) raise(id int, detail string) error {
	return platform.NewAlarms(p.root, p.clock).RaiseWith(id, alarmDefs()[id], "provisioning", detail)
}

// clearAlarms lowers both provisioning alarms.
func (p *provisioner) clearAlarms() error {
	a := platform.NewAlarms(p.root, p.clock)
	return errors.Join(a.Clear(AlarmSeedRejected), a.Clear(AlarmSeedRefused))
}
