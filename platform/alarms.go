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
	SeverityCritical Severity = "Critical"
	SeverityError    Severity = "Error"
	SeverityWarning  Severity = "Warning"
)

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
	AlarmExportControlWarning        = 30047
	AlarmExportControlApproaching    = 30048
	AlarmFactoryResetStarted         = 15009
	AlarmFactoryResetFailed          = 15013
	AlarmDefaultRootPassword         = 40003
	AlarmDefaultAdminPassword        = 40005
)

// AlarmInfo is the fixed part of a known alarm.
type AlarmInfo struct {
	Severity Severity
	Title    string
}

// KnownAlarms lists the alarms the device can raise, by id.
func KnownAlarms() map[int]AlarmInfo {
	return map[int]AlarmInfo{
		AlarmSmartEvaluation:             {SeverityWarning, "Smart Licensing is in evaluation mode"},
		AlarmSmartOutOfCompliance:        {SeverityError, "Smart Licensing overage: out of compliance"},
		AlarmSmartReservationExpired:     {SeverityError, "Reserved license expired: its functionality is stopped"},
		AlarmSmartEvaluationExpired:      {SeverityCritical, "Smart Licensing evaluation period expired: no license provisioned"},
		AlarmSmartAuthorizationExpired:   {SeverityCritical, "Smart Licensing authorization expired"},
		AlarmSmartAuthorizationExpired2:  {SeverityCritical, "Smart Licensing authorization expired"},
		AlarmSmartRegistrationExpired:    {SeverityCritical, "Smart Licensing registration expired"},
		AlarmSmartCommunicationError:     {SeverityError, "Smart Licensing communication error with the license manager"},
		AlarmSmartAuthorizationExpiring:  {SeverityWarning, "Smart Licensing authorization expiring soon"},
		AlarmSmartAuthorizationRenewFail: {SeverityError, "Smart Licensing authorization renewal failed"},
		AlarmSmartRegistrationRenewFail:  {SeverityError, "Smart Licensing registration renewal failed"},
		AlarmSmartRegistrationExpiring:   {SeverityWarning, "Smart Licensing registration expiring soon"},
		AlarmExportControlWarning:        {SeverityWarning, "Export control: encrypted session capacity reached"},
		AlarmExportControlApproaching:    {SeverityWarning, "Export control: encrypted session capacity approaching its limit"},
		AlarmFactoryResetStarted:         {SeverityWarning, "Factory reset in progress"},
		AlarmFactoryResetFailed:          {SeverityCritical, "Factory reset failed"},
		AlarmDefaultRootPassword:         {SeverityCritical, "Security alert: the root user has the default password set"},
		AlarmDefaultAdminPassword:        {SeverityCritical, "Security alert: the admin user has the default password set"},
	}
}

// Alarm is one raised alarm, as stored in /data/alarms/<id>.json.
type Alarm struct {
	ID       int       `json:"id"`
	Severity Severity  `json:"severity"`
	Title    string    `json:"title"`
	Detail   string    `json:"detail,omitempty"`
	Raised   time.Time `json:"raised"`
	Updated  time.Time `json:"updated"`
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

func (a *Alarms) path(id int) string {
	return filepath.Join(a.root, AlarmDir, strconv.Itoa(id)+".json")
}

// Raise raises alarm id with detail. Raising an alarm already raised keeps
// its first raised time and updates the detail.
func (a *Alarms) Raise(id int, detail string) error {
	info, ok := KnownAlarms()[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrUnknownAlarm, id)
	}
	now := a.clock.Now().UTC()
	al := Alarm{ID: id, Severity: info.Severity, Title: info.Title, Detail: detail, Raised: now, Updated: now}
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

// Clear lowers alarm id; clearing an alarm that is not raised does nothing.
func (a *Alarms) Clear(id int) error {
	p := a.path(id)
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
	p := a.path(id)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Alarm{}, false, nil
	}
	if err != nil {
		return Alarm{}, false, fmt.Errorf("reading %s: %w", p, err)
	}
	var al Alarm
	if err := json.Unmarshal(b, &al); err != nil {
		return Alarm{}, false, fmt.Errorf("parsing %s: %w", p, err)
	}
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
			al = Alarm{ID: id, Severity: info.Severity, Title: info.Title, Detail: err.Error()}
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
