package webui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"vxway/sysclient"
	"vxway/upgrade"
	"vxway/websession"
)

// Upgrader installs the bundle at url into the slot that is not running
// and restarts the device once its answer is back: the system service (a
// sysclient.Client), which xcommand SystemUnit Upgrade uses too.
type Upgrader interface {
	Upgrade(ctx context.Context, url string, progress func(string)) (sysclient.UpgradeResult, error)
}

// The bounds of what an upgrade started from the page keeps to show.
const (
	upgradeSteps    = 40
	upgradeStepSize = 300
	// upgradeTimeout bounds the whole upgrade: the download's own bound
	// and the write and read-back.
	upgradeTimeout = upgrade.DownloadTimeout + 10*time.Minute
	// upgradeRefresh is how often the page reloads while an upgrade runs.
	upgradeRefresh = "3"
)

// upgradeJob is the upgrade the page started, while it runs and after
// (until the device restarts): one at a time.
type upgradeJob struct {
	mu sync.Mutex
	upgradeStatus
}

// upgradeStatus is what the page shows of the job.
type upgradeStatus struct {
	Running bool
	// URL is the bundle's address without any password in it.
	URL     string
	By      string
	Started time.Time
	Steps   []string
	Error   string
	Version string
	Slot    string
}

func (j *upgradeJob) snapshot() upgradeStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := j.upgradeStatus
	st.Steps = append([]string(nil), j.Steps...)
	return st
}

// step records a progress line, keeping the last upgradeSteps.
func (j *upgradeJob) step(line string) {
	if len(line) > upgradeStepSize {
		line = strings.ToValidUTF8(line[:upgradeStepSize], "") + "..."
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.Steps = append(j.Steps, line)
	if len(j.Steps) > upgradeSteps {
		j.Steps = j.Steps[len(j.Steps)-upgradeSteps:]
	}
}

type upgradeData struct {
	Software  []upgrade.SoftwareLine
	Job       upgradeStatus
	Available bool
}

func (s *Server) upgradePage(w http.ResponseWriter, r *http.Request, x *session) {
	s.showUpgrade(w, r, x, http.StatusOK, nil, nil)
}

func (s *Server) showUpgrade(w http.ResponseWriter, r *http.Request, x *session, status int, errs, form map[string]string) {
	d := upgradeData{Job: s.upgrade.snapshot(), Available: s.upgrader != nil}
	lines, err := upgrade.Software(s.root)
	if err != nil && errs == nil {
		errs = map[string]string{"": err.Error()}
	}
	d.Software = lines
	if d.Job.Running {
		w.Header().Set("Refresh", upgradeRefresh)
	}
	s.render(w, r, x, "upgrade", status, &view{Title: "Upgrade", Section: "Maintenance", Data: d, Errors: errs, Form: form})
}

// upgradePost starts an upgrade from the bundle's URL, with the checks
// xcommand SystemUnit Upgrade makes before it asks the system service.
// The upgrade runs on after the answer (the page reloads to follow it):
// a download and write can outlast a page's answer.
func (s *Server) upgradePost(w http.ResponseWriter, r *http.Request, x *session) {
	raw := strings.TrimSpace(r.PostFormValue("url"))
	form := map[string]string{"url": raw}
	u, err := sysclient.CheckUpgradeURL(raw)
	if err == nil && s.upgrader == nil {
		err = fmt.Errorf("upgrades are not available here: no system service")
	}
	if err != nil {
		if len(raw) > sysclient.MaxURL {
			form = nil
		}
		s.showUpgrade(w, r, x, http.StatusBadRequest, map[string]string{"url": err.Error()}, form)
		return
	}
	j := &s.upgrade
	j.mu.Lock()
	if j.Running {
		busy := fmt.Sprintf("an upgrade from %s started by %s at %s is under way: wait for it to finish", j.URL, j.By, j.Started.UTC().Format(time.RFC3339))
		j.mu.Unlock()
		s.showUpgrade(w, r, x, http.StatusConflict, map[string]string{"url": busy}, form)
		return
	}
	j.upgradeStatus = upgradeStatus{Running: true, URL: u.Redacted(), By: x.User, Started: s.clock.Now()}
	j.mu.Unlock()
	s.event("upgrade from %s asked by %s from %s", websession.LogQuote(u.Redacted()), websession.LogQuote(x.User), websession.Source(r))
	go s.runUpgrade(raw)
	s.sessions.AddFlash(x, flash{Text: "Upgrade started: the page follows it, and the device restarts into the new version once it is written and verified."})
	websession.SeeOther(w, r, "/maintenance/upgrade")
}

// runUpgrade asks the system service for the upgrade and records how it
// goes. On success the service restarts the device once this call ends.
func (s *Server) runUpgrade(raw string) {
	ctx, cancel := context.WithTimeout(context.Background(), upgradeTimeout)
	defer cancel()
	res, err := s.upgrader.Upgrade(ctx, raw, s.upgrade.step)
	j := &s.upgrade
	j.mu.Lock()
	j.Running = false
	if err != nil {
		j.Error = err.Error()
	} else {
		j.Version, j.Slot = res.Version, res.Slot
	}
	redacted := j.URL
	j.mu.Unlock()
	if err != nil {
		s.event("upgrade from %s failed: %v", websession.LogQuote(redacted), err)
		return
	}
	s.event("upgrade to %s written into slot %s; the device restarts", websession.LogQuote(res.Version), res.Slot)
}
