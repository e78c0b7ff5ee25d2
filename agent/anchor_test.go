package agent

import (
	"os"
	"path/filepath"
	"testing"

	"vxway/agentclient"
	"vxway/clock"
)

// TestEvaluationAnchor checks that moving the clock back, restarting the
// agent or deleting /data/licensing does not restart the evaluation.
func TestEvaluationAnchor(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, root string, clk *clock.Fake)
	}{
		{"clock moved back", func(t *testing.T, root string, clk *clock.Fake) { clk.Set(t0.Add(-10 * day)) }},
		{"restart", func(t *testing.T, root string, clk *clock.Fake) {}},
		{"data deleted", func(t *testing.T, root string, clk *clock.Fake) {
			if err := os.RemoveAll(filepath.Join(root, StateDir)); err != nil {
				t.Fatal(err)
			}
		}},
		{"data deleted and clock back", func(t *testing.T, root string, clk *clock.Fake) {
			if err := os.RemoveAll(filepath.Join(root, StateDir)); err != nil {
				t.Fatal(err)
			}
			clk.Set(t0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			m := newMemManager(clk)
			root := expresswayRoot(t)
			a := newTestAgent(t, root, clk, m)
			if err := a.Enable(); err != nil {
				t.Fatal(err)
			}
			clk.Advance(60 * day)
			a.Close()
			tt.tamper(t, root, clk)
			b := newTestAgent(t, root, clk, m)
			if err := b.Enable(); err != nil { // the platform enables it again after a data wipe
				t.Fatal(err)
			}
			s := b.Status()
			if !s.EvaluationStart.Equal(t0) {
				t.Errorf("evaluation start %s, want %s", s.EvaluationStart, t0)
			}
			if s.EvaluationDaysLeft > 30 {
				t.Errorf("%d evaluation days left after 60 days, want at most 30", s.EvaluationDaysLeft)
			}
			// Evaluation still ends 90 days after the first enable, as
			// measured by the device's latest time seen.
			clk.Set(t0.Add(90 * day))
			if got := b.Status().Authorization; got != agentclient.AuthEvalExpired {
				t.Errorf("at day 90: %q, want %q", got, agentclient.AuthEvalExpired)
			}
		})
	}
}

// TestDamagedFiles: damaged state or configuration is set aside and the
// agent starts; a damaged anchor counts the evaluation as spent.
func TestDamagedFiles(t *testing.T) {
	for _, rel := range []string{stateFile, configFile, anchorFile} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			clk := clock.NewFake(t0)
			root := expresswayRoot(t)
			a := newTestAgent(t, root, clk, newMemManager(clk))
			if err := a.Enable(); err != nil {
				t.Fatal(err)
			}
			if _, err := a.SetConfig(agentclient.LeafMode, "Proxy"); err != nil {
				t.Fatal(err)
			}
			a.Close()
			if err := os.WriteFile(filepath.Join(root, rel), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			b := newTestAgent(t, root, clk, newMemManager(clk))
			if _, err := os.Stat(filepath.Join(root, rel+".corrupt")); err != nil {
				t.Errorf("damaged file not set aside: %v", err)
			}
			if err := b.Enable(); err != nil {
				t.Fatal(err)
			}
			s := b.Status()
			wantAuth := agentclient.AuthEvaluation
			if rel == anchorFile {
				wantAuth = agentclient.AuthEvalExpired
			}
			if s.Authorization != wantAuth {
				t.Errorf("after damage to %s: %q, want %q", rel, s.Authorization, wantAuth)
			}
		})
	}
}
