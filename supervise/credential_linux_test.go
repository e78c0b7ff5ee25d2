package supervise

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestServiceRunsAsItsUser: a service with a Credential runs with that
// user, group and supplementary groups.
func TestServiceRunsAsItsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting a program as another user needs root")
	}
	s, _, events := newSupervisor(t)
	cred := &syscall.Credential{Uid: 4242, Gid: 4243, Groups: []uint32{4244}}
	if err := s.Start([]Service{{Name: "user", Path: "/bin/sleep", Args: []string{"60"}, Credential: cred}}); err != nil {
		t.Fatal(err)
	}
	defer stopAsync(s, events)
	e := expect(t, events, Started, 1)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.Pid))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Uid": "4242\t4242\t4242\t4242", "Gid": "4243\t4243\t4243\t4243", "Groups": "4244"}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if w, ok := want[k]; ok {
			if got := strings.TrimSpace(v); got != w {
				t.Errorf("%s: %q, want %q", k, got, w)
			}
			delete(want, k)
		}
	}
	if len(want) != 0 {
		t.Errorf("status lacks %v", want)
	}
}
