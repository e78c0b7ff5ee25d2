package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"vxway/atomicfile"
)

// The loans a lender has granted are written to its state file before the
// grant is answered, and read back at start with a fresh lease: a lender
// that restarts still counts what it lent, so nothing is lent twice. A
// borrower keeps its leases in memory only: after a restart it stops
// counting them and its lender drops them when they are not renewed.

// storedLoans is the state file. Version 2 adds each borrower's
// instance id; a file without a version (1) has none, and its loans are
// adopted by the first renewal that names them.
type storedLoans struct {
	Version int          `json:"version,omitempty"`
	Loans   []storedLoan `json:"loans"`
}

// storeVersion is the version saveLoans writes.
const storeVersion = 2

type storedLoan struct {
	ID       string `json:"id"`
	Borrower string `json:"borrower"`
	Instance string `json:"instance,omitempty"`
	Type     string `json:"type"`
	Count    int    `json:"count"`
}

// loadLoans reads the state file; a missing file is no loans.
func loadLoans(path string, types []string) ([]storedLoan, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var s storedLoans
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if s.Version > storeVersion {
		return nil, fmt.Errorf("parsing %s: version %d is newer than this program reads (%d); run the newer program or remove the file once its loans ran out (2 minutes after the last renewal)", path, s.Version, storeVersion)
	}
	for _, l := range s.Loans {
		known := false
		for _, t := range types {
			known = known || t == l.Type
		}
		if !validID(l.ID) || !known || l.Count < 1 || l.Count > maxCount || checkNodeName(l.Borrower) != nil || (l.Instance != "" && !validID(l.Instance)) {
			return nil, fmt.Errorf("parsing %s: loan %q is not valid", path, l.ID)
		}
	}
	return s.Loans, nil
}

// saveLoans writes the loans atomically, readable by the owner only.
func saveLoans(path string, loans map[string]*loan) error {
	if path == "" {
		return nil
	}
	s := storedLoans{Version: storeVersion, Loans: []storedLoan{}}
	for id, l := range loans {
		s.Loans = append(s.Loans, storedLoan{ID: id, Borrower: l.borrower, Instance: l.instance, Type: l.typ, Count: l.count})
	}
	sort.Slice(s.Loans, func(i, j int) bool { return s.Loans[i].ID < s.Loans[j].ID })
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.WriteJSON(path, s, 0o600)
}

// KeptLent reports, per license type, what the loans in the state file
// at path count: what a lender must keep counting as lent while no node
// runs (a borrower may hold each for up to MaxLease after the node
// stopped). A missing file is nothing lent.
func KeptLent(path string, types []string) (map[string]int, error) {
	loans, err := loadLoans(path, types)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, l := range loans {
		out[l.Type] += l.Count
	}
	return out, nil
}
