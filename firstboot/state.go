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
	p := filepath.Join(root, StatePath)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", p, err)
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

type alarmDef struct {
	severity platform.Severity
	title    string
	action   string
}

func alarmDefs() map[int]alarmDef {
	return map[int]alarmDef{
		AlarmSeedRejected: {platform.SeverityError, "Provisioning seed rejected: nothing was applied",
			"Read the problems on the console or with xstatus Provisioning, fix provision.toml, attach it again and restart"},
		AlarmSeedRefused: {platform.SeverityWarning, "Provisioning seed refused: the device is already provisioned or its provisioning is closed",
			"Detach the seed disk; to provision the device again, factory reset it first"},
	}
}

// raise writes alarm id in the platform's alarm shape, keeping the time it
// was first raised.
func raise(root string, id int, detail string, now time.Time) error {
	def := alarmDefs()[id]
	a := platform.Alarm{ID: id, Component: "provisioning", Severity: def.severity, Title: def.title, Action: def.action,
		Detail: detail, Raised: now.UTC(), Updated: now.UTC()}
	rel := filepath.Join(platform.AlarmDir, fmt.Sprintf("%d.json", id))
	if b, err := os.ReadFile(filepath.Join(root, rel)); err == nil {
		var old platform.Alarm
		if json.Unmarshal(b, &old) == nil && !old.Raised.IsZero() {
			a.Raised = old.Raised
		}
	}
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding alarm %d: %w", id, err)
	}
	return writeFile(root, rel, append(b, '\n'), 0o644)
}

func clearAlarm(root string, id int) error {
	p := filepath.Join(root, platform.AlarmDir, fmt.Sprintf("%d.json", id))
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clearing alarm %d: %w", id, err)
	}
	return nil
}
