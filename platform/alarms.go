package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"vxway/atomicfile"
	"vxway/clock"
)

// AlarmDir holds one file per raised alarm, below the root.
const AlarmDir = "data/alarms"

// Severity of an alarm, as the product's alarm list shows it.
type Severity string

// Severities.
const (
	SeverityCritical Severity = "critical"
	SeverityError    Severity = "error"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// String reports the severity capitalised, as the alarm list shows it.
func (s Severity) String() string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + strings.ToLower(string(s[1:]))
}

// Alarm ids the device raises (the vendor's alarm reference numbers).
const (
	AlarmSmartEvaluation             = 30035
	AlarmSmartOutOfCompliance        = 30036
	AlarmSmartReservationExpired     = 30037
	AlarmSmartEvaluationExpired      = 30038
	AlarmSmartAuthorizationExpired   = 30039
	AlarmSmartAuthorizationExpired2  = 30040
	AlarmSmartRegistrationExpired    = 30041
	AlarmSmartCommunicationError     = 30042
	AlarmSmartAuthorizationExpiring  = 30043
	AlarmSmartAuthorizationRenewFail = 30044
	AlarmSmartRegistrationRenewFail  = 30045
	AlarmSmartRegistrationExpiring   = 30046
	AlarmExportControlApproaching    = 30047
	AlarmExportControlReached        = 30048
	// AlarmSmartClockOffset is not in the vendor's list: the device's
	// clock is minutes or more away from the license manager's.
	AlarmSmartClockOffset     = 30049
	AlarmFactoryResetStarted  = 15009
	AlarmFactoryResetFailed   = 15013
	AlarmDefaultRootPassword  = 40003
	AlarmDefaultAdminPassword = 40005
	// The 45000 range is not in the vendor's list; provisioning uses it.
	AlarmProvisioningRejected = 45001
	AlarmProvisioningRefused  = 45002
)

// AlarmInfo is the fixed part of a known alarm.
type AlarmInfo struct {
	Severity Severity
	Title    string
	// Action tells the administrator what to do about it.
	Action string
}

// alarmComponent names the part of the device that owns an alarm id.
func alarmComponent(id int) string {
	switch id / 1000 {
	case 30:
		return "licensing"
	case 15:
		return "factory-reset"
	case 40:
		return "security"
	case 45:
		return "provisioning"
	}
	return "platform"
}

// KnownAlarms lists the alarms the device can raise, by id.
func KnownAlarms() map[int]AlarmInfo {
	const (
		register = "Register the device: xcommand License Smart Register Token: \"<token>\""
		connect  = "Check the network path and transport settings to the license manager"
		reduce   = "Reduce encrypted calls and registrations"
	)
	return map[int]AlarmInfo{
		AlarmSmartEvaluation:             {SeverityInfo, "Smart Licensing is in evaluation mode", register},
		AlarmSmartOutOfCompliance:        {SeverityError, "Smart Licensing overage: out of compliance", "Add licenses to the virtual account on the manager"},
		AlarmSmartReservationExpired:     {SeverityError, "Reserved license expired: its functionality is stopped", "Install an updated reservation authorization code"},
		AlarmSmartEvaluationExpired:      {SeverityError, "Smart Licensing evaluation expired: no license provisioned", register},
		AlarmSmartAuthorizationExpired:   {SeverityError, "Smart Licensing authorization expired", connect},
		AlarmSmartAuthorizationExpired2:  {SeverityError, "Smart Licensing authorization expired while licenses are in use", connect},
		AlarmSmartRegistrationExpired:    {SeverityError, "Smart Licensing registration expired", "Register the device again with a new token"},
		AlarmSmartCommunicationError:     {SeverityWarning, "Smart Licensing communication error with the license manager", connect},
		AlarmSmartAuthorizationExpiring:  {SeverityWarning, "Smart Licensing authorization expiring soon", connect},
		AlarmSmartAuthorizationRenewFail: {SeverityWarning, "Smart Licensing authorization renewal failed", connect},
		AlarmSmartRegistrationRenewFail:  {SeverityWarning, "Smart Licensing registration renewal failed", connect},
		AlarmSmartRegistrationExpiring:   {SeverityWarning, "Smart Licensing registration expiring soon", connect},
		AlarmExportControlApproaching:    {SeverityWarning, "Export control: encrypted sessions have reached 90% of the limit", reduce},
		AlarmExportControlReached:        {SeverityError, "Export control: encrypted sessions have reached the limit", reduce},
		AlarmSmartClockOffset: {SeverityWarning, "The device clock differs from the license manager's time",
			"Configure NTP (xconfiguration NTP Server 1 Address); licensing follows the manager's time meanwhile"},
		AlarmFactoryResetStarted:  {SeverityWarning, "Factory reset in progress", "Wait for the device to restart"},
		AlarmFactoryResetFailed:   {SeverityError, "Factory reset failed", "Read the detail, then run factory-reset again from the console"},
		AlarmDefaultRootPassword:  {SeverityCritical, "Security alert: the root user has the default password set", "Log in as root and run passwd root"},
		AlarmDefaultAdminPassword: {SeverityCritical, "Security alert: the admin user has the default password set", "Log in as root and run passwd admin"},
		AlarmProvisioningRejected: {SeverityError, "Provisioning seed rejected: nothing was applied",
			"Read the problems on the console or with xstatus Provisioning, fix provision.toml, attach it again and restart"},
		AlarmProvisioningRefused: {SeverityWarning, "Provisioning seed refused: the device is already provisioned",
			"Detach the seed disk; to provision the device again, factory reset it first"},
	}
}

// Alarm is one raised alarm, as stored in /data/alarms/<id>.json. Every
// raising component writes this JSON shape.
type Alarm struct {
	ID        int       `json:"id"`
	Component string    `json:"component,omitempty"`
	Severity  Severity  `json:"severity"`
	Title     string    `json:"description"`
	Action    string    `json:"action,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Raised    time.Time `json:"raised"`
	Updated   time.Time `json:"updated,omitzero"`
	// Acknowledged is when an administrator acknowledged this raise of
	// the alarm (kept apart, in AckDir); the alarm stays raised until its
	// condition goes.
	Acknowledged time.Time `json:"-"`
}

// ErrUnknownAlarm marks an alarm id missing from KnownAlarms.
var ErrUnknownAlarm = errors.New("unknown alarm id")

// Alarms is the alarm store under a root directory. Several processes may
// use it at once: each alarm is its own file, replaced atomically.
type Alarms struct {
	root  string
	clock clock.Clock
}

// NewAlarms returns the alarm store of root; c stamps raise times (nil
// means the real clock).
func NewAlarms(root string, c clock.Clock) *Alarms {
	if c == nil {
		c = clock.Real{}
	}
	return &Alarms{root: root, clock: c}
}

// AlarmPath is the file of alarm id, below the root.
func AlarmPath(id int) string {
	return filepath.Join(AlarmDir, strconv.Itoa(id)+".json")
}

func (a *Alarms) path(id int) string {
	return filepath.Join(a.root, AlarmPath(id))
}

// Raise raises alarm id, one of KnownAlarms, with detail. Raising an alarm
// already raised keeps its first raised time and updates the detail.
func (a *Alarms) Raise(id int, detail string) error {
	info, ok := KnownAlarms()[id]
	if !ok {
		return fmt.Errorf("%w: %d; add it to platform.KnownAlarms or raise it with RaiseWith", ErrUnknownAlarm, id)
	}
	return a.RaiseWith(id, info, alarmComponent(id), detail)
}

// RaiseWith raises an alarm with its own severity, title and action, for
// ids outside KnownAlarms; it behaves as Raise otherwise.
func (a *Alarms) RaiseWith(id int, info AlarmInfo, component, detail string) error {
	if id <= 0 {
		return fmt.Errorf("%w: %d", ErrUnknownAlarm, id)
	}
	now := a.clock.Now().UTC()
	al := Alarm{ID: id, Component: component, Severity: info.Severity, Title: info.Title, Action: info.Action, Detail: detail, Raised: now, Updated: now}
	if old, ok, err := a.Get(id); err == nil && ok {
		if old.Detail == detail {
			return nil
		}
		al.Raised = old.Raised
	}
	b, err := json.MarshalIndent(al, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding alarm %d: %w", id, err)
	}
	return writeFile(a.path(id), append(b, '\n'), 0o644)
}

// ErrAlarmNotRaised marks an acknowledgement of an alarm that is not
// raised.
var ErrAlarmNotRaised = errors.New("alarm not raised")

// AckDir holds the acknowledgements of raised alarms, below the root:
// one file per alarm naming the raise it acknowledges, so that the alarm
// file stays written only by the component that raises it, and an alarm
// cleared and raised again is not acknowledged any more.
const AckDir = "data/alarms/acknowledged"

type ackFile struct {
	Raised       time.Time `json:"raised"`
	Acknowledged time.Time `json:"acknowledged"`
}

func (a *Alarms) ackPath(id int) string {
	return filepath.Join(a.root, AckDir, strconv.Itoa(id)+".json")
}

// Acknowledge marks raised alarm id as acknowledged (the first time
// counts); the alarm stays raised until its condition goes.
func (a *Alarms) Acknowledge(id int) error {
	al, ok, err := a.Get(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %d; xstatus Alarm lists the raised alarms", ErrAlarmNotRaised, id)
	}
	if !al.Acknowledged.IsZero() {
		return nil
	}
	b, err := json.Marshal(ackFile{Raised: al.Raised, Acknowledged: a.clock.Now().UTC()})
	if err != nil {
		return fmt.Errorf("encoding the acknowledgement of alarm %d: %w", id, err)
	}
	p := a.ackPath(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("making %s: %w", filepath.Dir(p), err)
	}
	return writeFile(p, append(b, '\n'), 0o644)
}

// acknowledged reports when the raise of al was acknowledged (zero: not).
func (a *Alarms) acknowledged(al Alarm) time.Time {
	b, err := os.ReadFile(a.ackPath(al.ID))
	if err != nil {
		return time.Time{}
	}
	var ack ackFile
	if json.Unmarshal(b, &ack) != nil || !ack.Raised.Equal(al.Raised) {
		return time.Time{}
	}
	return ack.Acknowledged
}

// Clear lowers alarm id; clearing an alarm that is not raised does nothing.
func (a *Alarms) Clear(id int) error {
	p := a.path(id)
	// The acknowledgement names the raise it was for; removing it only
	// keeps the directory tidy.
	os.Remove(a.ackPath(id))
	err := os.Remove(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clearing alarm %d: %w", id, err)
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}

// Set raises alarm id with detail when on is true and clears it otherwise.
func (a *Alarms) Set(id int, on bool, detail string) error {
	if on {
		return a.Raise(id, detail)
	}
	return a.Clear(id)
}

// Get reports alarm id and whether it is raised.
func (a *Alarms) Get(id int) (Alarm, bool, error) {
	var al Alarm
	if found, err := atomicfile.ReadJSON(a.path(id), &al); err != nil || !found {
		return Alarm{}, false, err
	}
	al.Acknowledged = a.acknowledged(al)
	return al, true, nil
}

// List returns the raised alarms in the order they were raised (then by
// id). A file that cannot be parsed is listed by its id with the known
// title, so a damaged file never hides an alarm.
func (a *Alarms) List() ([]Alarm, error) {
	dir := filepath.Join(a.root, AlarmDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	known := KnownAlarms()
	var out []Alarm
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		id, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		al, ok, err := a.Get(id)
		if err != nil {
			info := known[id]
			al = Alarm{ID: id, Component: alarmComponent(id), Severity: info.Severity, Title: info.Title, Action: info.Action, Detail: err.Error()}
			ok = true
		}
		if ok {
			out = append(out, al)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Raised.Equal(out[j].Raised) {
			return out[i].Raised.Before(out[j].Raised)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
