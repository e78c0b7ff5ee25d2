package backup

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"vxway/xapi"
	"vxway/xapi/xapitest"
)

// TestXAPI: create prints the file and its size; restore answers with the
// source and what happens to the registration and asks for the restart;
// a wrong password answers ERROR with the reason; xstatus Backup lists
// the archives, the pending restore and the last result.
func TestXAPI(t *testing.T) {
	a := newDevice(t, uuidA, "X14.2.0")
	configure(t, a, "a")
	tree := &xapi.Tree{}
	rebooted := 0
	RegisterXAPI(tree, a.Root, a, func() error { rebooted++; return nil })

	out, _ := xapitest.Serve(t, tree, `xcommand Backup Create Password: "`+password+`"`)
	m := regexp.MustCompile(`(?m)^\*r Backup Create File: "(/data/backup/vxway-backup-[0-9A-F]{8}-\d{8}T\d{6}Z\.vxb)"$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, `*r Backup Create Size: "`) || !strings.HasSuffix(out, "OK\n") {
		t.Fatalf("create answered:\n%s", out)
	}
	out, _ = xapitest.Serve(t, tree, `xcommand Backup Restore File: "`+m[1]+`" Password: "wrong-password"`)
	if !strings.HasSuffix(out, "ERROR\n") || !strings.Contains(out, "wrong backup password") || !strings.Contains(out, "nothing changed") {
		t.Errorf("restore with a wrong password answered:\n%s", out)
	}
	if rebooted != 0 {
		t.Error("a refused restore restarted the device")
	}
	out, _ = xapitest.Serve(t, tree, `xcommand Backup Restore File: "`+m[1][len("/data/backup/"):]+`" Password: "`+password+`"`)
	for _, want := range []string{`*r Backup Restore Status: "Checked"`, `*r Backup Restore Registration: "Restored`, `*r Backup Restore Apply: "restarting now`, "OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore answer lacks %q:\n%s", want, out)
		}
	}
	if rebooted != 1 {
		t.Errorf("restarted %d times, want 1", rebooted)
	}
	out, _ = xapitest.Serve(t, tree, "xstatus Backup")
	for _, want := range []string{`*s Backup File 1 Name: "vxway-backup-`, "*s Backup File 1 Size: ", `*s Backup Restore Pending: "vxway-backup-`} {
		if !strings.Contains(out, want) {
			t.Errorf("xstatus Backup lacks %q:\n%s", want, out)
		}
	}

	// A restart that cannot be asked for withdraws the restore.
	failing := &xapi.Tree{}
	RegisterXAPI(failing, a.Root, a, func() error { return errors.New("no init") })
	out, _ = xapitest.Serve(t, failing, `xcommand Backup Restore File: "`+m[1]+`" Password: "`+password+`"`)
	if !strings.HasSuffix(out, "ERROR\n") {
		t.Errorf("answer:\n%s", out)
	}
	if st, _ := LoadStaged(a.Root); st != nil {
		t.Error("the restore stayed staged without a restart")
	}
}
