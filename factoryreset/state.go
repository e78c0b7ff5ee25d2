package factoryreset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vxway/atomicfile"
	"vxway/platform"
)

// Files on persist, relative to the root.
const (
	// Dir holds everything the reset keeps on persist.
	Dir = "persist/reset"
	// RequestPath is the pending reset: its presence means a reset must
	// be carried out (or finished) at boot.
	RequestPath = Dir + "/request.json"
	// ProgressPath records the last phase reached by the reset under way.
	ProgressPath = Dir + "/progress.json"
	// ResultPath is the outcome of the last reset.
	ResultPath = Dir + "/result.json"
	// StageDir holds the kept items while data is recreated.
	StageDir = Dir + "/stage"
	// ManifestPath lists what was staged; written last, it marks the
	// staging complete.
	ManifestPath = StageDir + "/manifest.json"
)

// Errors callers branch on.
var (
	// ErrInProgress: a reset has started (at a boot) and not finished.
	ErrInProgress = errors.New("a factory reset is in progress and will be finished at the next boot")
	// ErrNoRequest: there is no pending request to withdraw.
	ErrNoRequest = errors.New("no factory reset is pending")
)

// requestVersion is the version of the request file format.
const requestVersion = 1

// Request is the reset recorded on persist for the next boot.
type Request struct {
	Version   int       `json:"version"`
	Requested time.Time `json:"requested"`
	Brand     string    `json:"brand"`
	Keep      []string  `json:"keep"`
}

// NewRequest records plan p asked for at time now.
func NewRequest(p Plan, now time.Time) Request {
	r := Request{Version: requestVersion, Requested: now.UTC(), Brand: string(p.Brand), Keep: []string{}}
	for _, i := range p.Keep {
		r.Keep = append(r.Keep, i.Name())
	}
	return r
}

// Plan returns the plan the request holds, checking it.
func (r Request) Plan() (Plan, error) {
	if r.Version != requestVersion {
		return Plan{}, fmt.Errorf("request version %d: this software reads version %d", r.Version, requestVersion)
	}
	brand, err := platform.ParseBrand(r.Brand)
	if err != nil {
		return Plan{}, err
	}
	var keep []Item
	for _, name := range r.Keep {
		i, err := ParseItem(name)
		if err != nil {
			return Plan{}, err
		}
		keep = append(keep, i)
	}
	return NewPlan(brand, keep...)
}

// Phase is how far a reset under way has got. Each phase is recorded on
// persist once reached; a boot resumes with the work that follows it.
type Phase string

// The phases, in order.
const (
	// PhaseStaging: started, copying the kept items to persist.
	PhaseStaging Phase = "staging"
	// PhaseStaged: kept items are safe on persist; data may be wiped.
	PhaseStaged Phase = "staged"
	// PhaseRecreated: data is a new empty filesystem.
	PhaseRecreated Phase = "recreated"
	// PhaseRestored: kept items and outcomes are on data, synced.
	PhaseRestored Phase = "restored"
)

// Doing says what a reset in phase p is doing next.
func (p Phase) Doing() string {
	switch p {
	case PhaseStaging:
		return "saving the kept items"
	case PhaseStaged:
		return "recreating the data filesystem"
	case PhaseRecreated:
		return "restoring the kept items"
	case PhaseRestored:
		return "recording the result"
	}
	return string(p)
}

func (p Phase) valid() bool {
	switch p {
	case PhaseStaging, PhaseStaged, PhaseRecreated, PhaseRestored:
		return true
	}
	return false
}

// Progress is the record of a reset under way.
type Progress struct {
	Phase    Phase     `json:"phase"`
	Started  time.Time `json:"started"`
	Attempts int       `json:"attempts"`
	// LastError is why the previous attempt stopped, if it failed.
	LastError string `json:"last_error,omitempty"`
}

// Result values.
const (
	ResultDone   = "done"
	ResultFailed = "failed"
)

// Result is the outcome of the last reset.
type Result struct {
	Result    string    `json:"result"`
	Time      time.Time `json:"time"`
	Requested time.Time `json:"requested"`
	Brand     string    `json:"brand"`
	Keep      []string  `json:"keep"`
	// Reason says why a failed reset failed.
	Reason string `json:"reason,omitempty"`
	// Retrying is set when the failure left the request in place for the
	// next boot (the data filesystem had already been touched).
	Retrying bool `json:"retrying,omitempty"`
}

// readJSON reads file rel below root into v; ok is false when it does
// not exist.
func readJSON(root, rel string, v any) (ok bool, err error) {
	return atomicfile.ReadJSON(filepath.Join(root, rel), v)
}

// writeJSON writes v atomically to rel below root, making the parent
// directories.
func writeJSON(root, rel string, v any) error {
	p := filepath.Join(root, rel)
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", p, err)
	}
	if err := mkdirAllSync(filepath.Dir(p)); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, append(b, '\n'), 0o600)
}

// removeSync removes rel below root (a file, or a directory and all it
// holds) and makes the removal durable. A missing path is not an error.
func removeSync(root, rel string) error {
	p := filepath.Join(root, rel)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}

// ReadRequest returns the pending request; ok is false when there is none.
func ReadRequest(root string) (r Request, ok bool, err error) {
	ok, err = readJSON(root, RequestPath, &r)
	return r, ok, err
}

// ReadProgress returns the progress of the reset under way; ok is false
// when none has started.
func ReadProgress(root string) (p Progress, ok bool, err error) {
	ok, err = readJSON(root, ProgressPath, &p)
	if ok && !p.Phase.valid() {
		return Progress{}, false, fmt.Errorf("%s: unknown phase %q", filepath.Join(root, ProgressPath), p.Phase)
	}
	return p, ok, err
}

// ReadResult returns the result of the last reset; ok is false when the
// device has never been reset.
func ReadResult(root string) (r Result, ok bool, err error) {
	ok, err = readJSON(root, ResultPath, &r)
	return r, ok, err
}

// Submit records plan p as the reset for the next boot, replacing a
// pending request that has not started. It refuses while a reset is in
// progress. The request is written atomically: after a power cut it is
// either wholly there or not at all.
func Submit(root string, p Plan, now time.Time) error {
	if _, ok, err := ReadProgress(root); err != nil {
		return err
	} else if ok {
		return ErrInProgress
	}
	return writeJSON(root, RequestPath, NewRequest(p, now))
}

// Withdraw removes a pending request that has not started.
func Withdraw(root string) error {
	if _, ok, err := ReadProgress(root); err != nil {
		return err
	} else if ok {
		return ErrInProgress
	}
	if _, err := os.Stat(filepath.Join(root, RequestPath)); errors.Is(err, os.ErrNotExist) {
		return ErrNoRequest
	}
	return removeSync(root, RequestPath)
}

// State is the summary --status reports.
type State string

// The states.
const (
	StateNone       State = "none"
	StatePending    State = "pending"
	StateInProgress State = "in progress"
	StateDone       State = "done"
	StateFailed     State = "failed"
)

// Status is what the device knows about factory resets.
type Status struct {
	State    State
	Request  *Request  // pending or in progress
	Progress *Progress // in progress
	Result   *Result   // last result, if any
}

// ReadStatus reads the reset state under root.
func ReadStatus(root string) (Status, error) {
	var s Status
	req, reqOK, err := ReadRequest(root)
	if err != nil {
		return s, err
	}
	prog, progOK, err := ReadProgress(root)
	if err != nil {
		return s, err
	}
	res, resOK, err := ReadResult(root)
	if err != nil {
		return s, err
	}
	if resOK {
		s.Result = &res
	}
	switch {
	case reqOK && progOK:
		s.State, s.Request, s.Progress = StateInProgress, &req, &prog
	case reqOK:
		s.State, s.Request = StatePending, &req
	case resOK && res.Result == ResultDone:
		s.State = StateDone
	case resOK:
		s.State = StateFailed
	default:
		s.State = StateNone
	}
	return s, nil
}

// String is the --status report.
func (s Status) String() string {
	var b strings.Builder
	switch s.State {
	case StateNone:
		b.WriteString("factory reset: none\n")
	case StatePending:
		fmt.Fprintf(&b, "factory reset: pending, requested %s, keeping %s; it runs at the next boot\n",
			stamp(s.Request.Requested), keepList(s.Request.Keep))
	case StateInProgress:
		fmt.Fprintf(&b, "factory reset: in progress (phase %s: %s), requested %s, keeping %s, attempt %d\n",
			s.Progress.Phase, s.Progress.Phase.Doing(), stamp(s.Request.Requested), keepList(s.Request.Keep), s.Progress.Attempts)
		if s.Progress.LastError != "" {
			fmt.Fprintf(&b, "previous attempt failed: %s; the reset is retried at the next boot\n", s.Progress.LastError)
		}
	case StateDone:
		fmt.Fprintf(&b, "factory reset: last result: done at %s (requested %s, kept %s)\n",
			stamp(s.Result.Time), stamp(s.Result.Requested), keepList(s.Result.Keep))
	case StateFailed:
		fmt.Fprintf(&b, "factory reset: last result: failed at %s: %s\n", stamp(s.Result.Time), s.Result.Reason)
	}
	return b.String()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// keepList names the kept items for humans.
func keepList(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	words := make([]string, len(names))
	for k, n := range names {
		if i, err := ParseItem(n); err == nil {
			words[k] = i.String()
		} else {
			words[k] = n
		}
	}
	return strings.Join(words, ", ")
}
