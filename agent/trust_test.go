package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"vxway/agentclient"
	"vxway/platform"
)

// TestTrustedKeysReadOnce: the manager keys are read at the first use and
// kept (the image cannot change under a running agent); a failed read is
// not kept.
func TestTrustedKeysReadOnce(t *testing.T) {
	root, _, _ := reservationRoot(t)
	trust := filepath.Join(root, platform.TrustDir)
	aside := trust + ".aside"
	if err := os.Rename(trust, aside); err != nil {
		t.Fatal(err)
	}
	a := &Agent{root: root}
	if _, err := a.trustedKeysLocked(); !errors.Is(err, agentclient.ErrNoTrust) {
		t.Fatalf("without trust files: %v, want ErrNoTrust", err)
	}
	if err := os.Rename(aside, trust); err != nil {
		t.Fatal(err)
	}
	first, err := a.trustedKeysLocked()
	if err != nil {
		t.Fatalf("once the files are there: %v", err)
	}
	if err := os.RemoveAll(trust); err != nil {
		t.Fatal(err)
	}
	again, err := a.trustedKeysLocked()
	if err != nil {
		t.Fatalf("after the first read: %v, want the kept keys", err)
	}
	if again.Len() != first.Len() || first.Len() == 0 {
		t.Fatalf("kept %d keys, first read %d", again.Len(), first.Len())
	}
}
