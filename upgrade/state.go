// Package upgrade installs signed upgrade bundles on the device and looks
// after the slots at boot: it checks a bundle against the image's trusted
// keys, its product and the minimum version recorded on persist, writes
// the slot that is not running (package slot), and records the attempt;
// at the next boot it marks the running slot good once the device is
// ready, or notices that the new slot ran out of tries and raises an alarm
// naming the version that failed. It also answers xcommand SystemUnit
// Upgrade and xstatus SystemUnit Software.
package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"vxway/atomicfile"
)

// StatePath is the upgrade record on persist, below the root: the last
// upgrade and the minimum version (it survives a factory reset).
const StatePath = "persist/upgrade/state.json"

// SlotsPath is what the boot found on the ESP (slots, running, next),
// below the root, for xstatus; rewritten by each install.
const SlotsPath = "run/vxway/upgrade/slots.json"

// ESPDir is where the ESP is mounted while the slots are read or written,
// below the root.
const ESPDir = "run/vxway/esp"

// Results of an upgrade.
const (
	// ResultWriting: the other slot is being written.
	ResultWriting = "writing"
	// ResultPending: written and verified, boots next (on trial).
	ResultPending = "pending"
	// ResultInstalled: the new version booted and was marked good.
	ResultInstalled = "installed"
	// ResultFailed: the new version used up its tries; the old one runs.
	ResultFailed = "failed"
	// ResultInterrupted: the write did not finish (power cut or error);
	// the old version runs and the other slot is empty.
	ResultInterrupted = "interrupted"
)

// Attempt is one upgrade as recorded on persist.
type Attempt struct {
	Version  string    `json:"version"`
	From     string    `json:"from"`
	Slot     string    `json:"slot"`
	Started  time.Time `json:"started"`
	Result   string    `json:"result"`
	Reason   string    `json:"reason,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
}

// State is the upgrade record.
type State struct {
	// MinVersion is the lowest version an upgrade may install: the
	// version of the last upgrade that booted and was marked good.
	MinVersion string   `json:"min_version,omitempty"`
	Last       *Attempt `json:"last,omitempty"`
}

// LoadState reads the record; a missing file is an empty record.
func LoadState(root string) (State, error) {
	var s State
	err := readJSON(filepath.Join(root, StatePath), &s)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	return s, nil
}

// readJSON decodes the JSON file p into v; a missing file's error wraps
// os.ErrNotExist.
func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", p, err)
	}
	return nil
}

// SaveState writes the record atomically.
func SaveState(root string, s State) error {
	return atomicfile.WriteJSON(filepath.Join(root, StatePath), s, 0o644)
}

// SlotInfo is one slot as the boot found it.
type SlotInfo struct {
	Slot    string `json:"slot"`
	Version string `json:"version,omitempty"`
	// State is good, trying, bad or empty.
	State     string `json:"state"`
	TriesLeft int    `json:"tries_left,omitempty"`
}

// Slots is the snapshot of the ESP for xstatus.
type Slots struct {
	Running string     `json:"running"`
	Next    string     `json:"next"`
	Slots   []SlotInfo `json:"slots"`
}

func loadSlots(root string) (Slots, error) {
	var s Slots
	if err := readJSON(filepath.Join(root, SlotsPath), &s); err != nil {
		return Slots{}, err
	}
	return s, nil
}

func saveSlots(root string, s Slots) error {
	return atomicfile.WriteJSON(filepath.Join(root, SlotsPath), s, 0o644)
}
