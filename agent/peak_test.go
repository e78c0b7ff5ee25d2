package agent

import (
	"testing"

	"vxway/agentclient"
	"vxway/clock"
)

// TestUsagePeak checks that the status keeps the most licenses of each
// type in use at once, also once usage falls (to zero too).
func TestUsagePeak(t *testing.T) {
	clk := clock.NewFake(t0)
	root := expresswayRoot(t)
	a := newTestAgent(t, root, clk, newMemManager(clk))
	if err := a.Enable(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 7, 2} {
		if err := a.SetUsage(agentclient.TypeRMS, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetUsage(agentclient.TypeRoom, 4); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUsage(agentclient.TypeRoom, 0); err != nil {
		t.Fatal(err)
	}
	st := a.Status()
	if st.Peak[agentclient.TypeRMS] != 7 || st.Peak[agentclient.TypeRoom] != 4 || st.Peak[agentclient.TypeDesktop] != 0 {
		t.Errorf("peaks %v, want rms 7, room 4", st.Peak)
	}
	if len(st.Usage) != 1 || st.Usage[0].Count != 2 || st.Usage[0].Peak != 7 {
		t.Errorf("usage %+v, want rms 2 with peak 7", st.Usage)
	}
}
