package platform

import (
	"errors"
	"strings"
	"testing"
	"time"

	"vxway/xapi"
	"vxway/xapi/xapitest"
)

// TestAlarmAcknowledge acknowledges over the xAPI and checks that the
// acknowledgement shows, survives a new detail, and does not carry over to
// a new raise after the alarm cleared.
func TestAlarmAcknowledge(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	clk := newTestClock()
	a := NewAlarms(root, clk)
	if err := a.Raise(AlarmSmartCommunicationError, "timeout"); err != nil {
		t.Fatal(err)
	}
	var tree xapi.Tree
	RegisterXAPI(&tree, root, clk, Hooks{})
	if _, err := xapitest.Serve(t, &tree, "xcommand Alarm Acknowledge Id: 30041"); !errors.Is(err, ErrAlarmNotRaised) {
		t.Errorf("acknowledging an alarm not raised: %v", err)
	}
	if _, err := xapitest.Serve(t, &tree, "xcommand Alarm Acknowledge Id: x"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("acknowledging id x: %v", err)
	}
	if _, err := xapitest.Serve(t, &tree, "xcommand Alarm Acknowledge Id: 30042"); err != nil {
		t.Fatal(err)
	}
	out, _ := xapitest.Serve(t, &tree, "xstatus Alarm")
	if !strings.Contains(out, "*s Alarm 1 Acknowledged: ") {
		t.Errorf("xstatus Alarm does not show the acknowledgement:\n%s", out)
	}
	a.Raise(AlarmSmartCommunicationError, "refused")
	if al, _, _ := a.Get(AlarmSmartCommunicationError); al.Acknowledged.IsZero() {
		t.Error("a new detail dropped the acknowledgement")
	}
	a.Clear(AlarmSmartCommunicationError)
	clk.Advance(time.Minute)
	a.Raise(AlarmSmartCommunicationError, "timeout")
	if al, _, _ := a.Get(AlarmSmartCommunicationError); !al.Acknowledged.IsZero() {
		t.Error("a new raise is acknowledged already")
	}
}

func TestPasswordStampChangesWithThePassword(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	u := NewUsers(root, newTestClock())
	s1, err := u.PasswordStamp(UserAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetPassword(UserAdmin, "n3w-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	if s2, _ := u.PasswordStamp(UserAdmin); s2 == s1 || s2 == "" {
		t.Errorf("stamp %q before, %q after the change", s1, s2)
	}
}
