package agent

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"vxway/agentclient"
)

// TestAdmissionsInOrder: a batch of admissions through the local API is
// decided one after the other against the counts the earlier ones left,
// so the export-control cap is exact inside a batch, and Unauthorized
// refuses the registrations of a batch but not its calls.
func TestAdmissionsInOrder(t *testing.T) {
	r := newXAPIRig(t)
	r.ok("xconfiguration License Smart Enabled: On")
	c := agentclient.NewClient(filepath.Join(r.root, agentclient.SocketPath))
	ctx := context.Background()
	if _, err := r.a.SetSessions(ExportLimit-3, false); err != nil {
		t.Fatal(err)
	}
	enc := agentclient.Admission{Type: agentclient.TypeDesktop, Encrypted: true}
	plain := agentclient.Admission{Type: agentclient.TypeDesktop}
	ans, err := c.Admit(ctx, agentclient.Admissions{Usage: agentclient.RealUsage{Desktop: 1, Encrypted: 1}, Admit: []agentclient.Admission{enc, plain, enc, enc}})
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, nil, nil, agentclient.ErrExportLimit}
	if len(ans.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(ans.Results), len(want))
	}
	for i, w := range want {
		if got := ans.Results[i].Err(); (w == nil) != (got == nil) || (w != nil && !errors.Is(got, w)) {
			t.Errorf("admission %d: %v, want %v", i+1, got, w)
		}
	}
	if ans.Export.Encrypted != ExportLimit || ans.Export.Accepting {
		t.Errorf("export after the batch: %+v, want %d and not accepting", ans.Export, ExportLimit)
	}
	desktop := 0
	for _, u := range r.a.Status().Usage {
		if u.Type == agentclient.TypeDesktop {
			desktop = u.Count
		}
	}
	if desktop != 4 {
		t.Errorf("desktop usage after the batch: %d, want 4 (1 live and 3 admitted)", desktop)
	}

	r.clk.Advance(EvaluationPeriod)
	ans, err = c.Admit(ctx, agentclient.Admissions{Admit: []agentclient.Admission{plain, {Type: agentclient.TypeRMS}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ans.Results[0].Err(); !errors.Is(err, agentclient.ErrUnauthorized) {
		t.Errorf("registration while Unauthorized: %v, want ErrUnauthorized", err)
	}
	if err := ans.Results[1].Err(); err != nil {
		t.Errorf("call while Unauthorized: %v, want admitted", err)
	}

	for _, bad := range []agentclient.Admissions{
		{Usage: agentclient.RealUsage{Room: -1}, Admit: []agentclient.Admission{plain}},
		{Usage: agentclient.RealUsage{Admit: &plain}},
		{Admit: make([]agentclient.Admission, agentclient.MaxAdmissions+1)},
	} {
		if _, err := c.Admit(ctx, bad); !errors.Is(err, agentclient.ErrInvalidConfig) {
			t.Errorf("Admit(%+v): %v, want ErrInvalidConfig", bad.Usage, err)
		}
	}
}
