package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vxway/clock"
	"vxway/platform"
	"vxway/sysclient"
	"vxway/xapi"
)

// ErrBadRequest marks an xAPI request naming a node or argument that does
// not exist.
var ErrBadRequest = errors.New("bad request")

// DownloadTimeout bounds the download of a bundle by URL.
const DownloadTimeout = 10 * time.Minute

// XAPI serves the upgrade's xAPI nodes for the device under Root.
type XAPI struct {
	Root  string
	Clock clock.Clock
	// System installs an upgrade with root's rights and then restarts
	// the device: init's system service (a sysclient.Client) on the
	// device. The xAPI shell never mounts the ESP or reboots itself,
	// whichever user runs it.
	System Installer
}

// Installer installs the bundle at url into the other slot and restarts
// the device once the answer is back.
type Installer interface {
	Upgrade(ctx context.Context, url string, progress func(string)) (sysclient.UpgradeResult, error)
}

// Register adds the nodes to t:
//
//	xstatus SystemUnit Software             slots, running, next, last upgrade
//	xcommand SystemUnit Upgrade URL: "..."  download, check, write, restart
func (x *XAPI) Register(t *xapi.Tree) {
	t.Handle(xapi.Status, "SystemUnit Software", x.status)
	t.Handle(xapi.Command, "SystemUnit Upgrade", x.upgrade)
}

func (x *XAPI) upgrade(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(rel) > 0 {
		return fmt.Errorf("%w: no SystemUnit Upgrade %s; use xcommand SystemUnit Upgrade URL: \"http://host/vxway-<version>.vxu\"", ErrBadRequest, strings.Join(rel, " "))
	}
	u, ok := req.Arg("URL")
	if !ok || u == "" {
		return fmt.Errorf("%w: URL is missing: xcommand SystemUnit Upgrade URL: \"http://host/vxway-<version>.vxu\"", ErrBadRequest)
	}
	for _, a := range req.Args {
		if !strings.EqualFold(a.Name, "URL") {
			return fmt.Errorf("%w: unknown argument %q; the only argument is URL", ErrBadRequest, a.Name)
		}
	}
	if _, err := sysclient.CheckUpgradeURL(u); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if x.System == nil {
		return fmt.Errorf("upgrades are not available here: no system service")
	}
	start := time.Now()
	res, err := x.System.Upgrade(ctx, u, nil)
	if err != nil {
		return err
	}
	out.Result("SystemUnit Upgrade Version", res.Version)
	if res.Slot != "" {
		out.Result("SystemUnit Upgrade Slot", res.Slot)
	}
	out.Result("SystemUnit Upgrade Duration", time.Since(start).Round(time.Millisecond).String())
	out.Result("SystemUnit Upgrade Status", "written and verified; restarting into the new version")
	return nil
}

func (x *XAPI) status(_ context.Context, _ *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(rel) > 0 && (xapi.PathIs(rel, "Version") || xapi.PathIs(rel, "BuildTime")) {
		// The platform's SystemUnit status shows these; answer them here
		// too, since this handler owns the Software prefix.
		info, err := platform.LoadImageInfo(x.Root)
		if err != nil {
			return err
		}
		if xapi.PathIs(rel, "Version") {
			out.Status("SystemUnit Software Version", info.SoftwareVersion)
		} else {
			out.Status("SystemUnit Software BuildTime", info.BuildTime.UTC().Format(time.RFC3339))
		}
		return nil
	}
	lines, err := Software(x.Root)
	if err != nil {
		return err
	}
	n := 0
	want := strings.ToLower(strings.Join(rel, " "))
	for _, l := range lines {
		p := strings.ToLower(l.Name)
		if want != "" && p != want && !strings.HasPrefix(p, want+" ") {
			continue
		}
		out.Status("SystemUnit Software "+l.Name, l.Value)
		n++
	}
	if n == 0 && len(rel) > 0 {
		return fmt.Errorf("%w: no SystemUnit Software %s; the nodes are Version, BuildTime, Running, Next, Slot, MinimumVersion, LastUpgrade", ErrBadRequest, strings.Join(rel, " "))
	}
	return nil
}

// SoftwareLine is one line of the software status: Name is its path
// below SystemUnit Software ("Slot A Version").
type SoftwareLine struct{ Name, Value string }

// Software is the software status xstatus SystemUnit Software shows (and
// the web interface's Upgrade page): the slots as the boot found them,
// the minimum version and the last upgrade.
func Software(root string) ([]SoftwareLine, error) {
	var lines []SoftwareLine
	add := func(name, v string) { lines = append(lines, SoftwareLine{name, v}) }
	if s, err := loadSlots(root); err == nil {
		add("Running", s.Running)
		add("Next", s.Next)
		for _, si := range s.Slots {
			add("Slot "+si.Slot+" Version", si.Version)
			add("Slot "+si.Slot+" State", si.State)
			if si.State == "trying" {
				add("Slot "+si.Slot+" TriesLeft", strconv.Itoa(si.TriesLeft))
			}
		}
	} else {
		add("Running", Running(root).Upper())
		add("Slots", "unknown: the boot has not read the ESP yet")
	}
	st, err := LoadState(root)
	if err != nil {
		return nil, err
	}
	add("MinimumVersion", st.MinVersion)
	if st.Last == nil {
		add("LastUpgrade Result", "none")
		return lines, nil
	}
	l := st.Last
	add("LastUpgrade Result", l.Result)
	add("LastUpgrade Version", l.Version)
	add("LastUpgrade From", l.From)
	add("LastUpgrade Slot", l.Slot)
	add("LastUpgrade Started", l.Started.UTC().Format(time.RFC3339))
	if !l.Finished.IsZero() {
		add("LastUpgrade Finished", l.Finished.UTC().Format(time.RFC3339))
	}
	if l.Reason != "" {
		add("LastUpgrade Reason", l.Reason)
	}
	return lines, nil
}
