package platform

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAlarmRaiseKeepsFirstTime(t *testing.T) {
	root := t.TempDir()
	clk := newTestClock()
	a := NewAlarms(root, clk)
	if err := a.Raise(AlarmSmartCommunicationError, "timed out"); err != nil {
		t.Fatal(err)
	}
	first := clk.Now()
	clk.Advance(15 * time.Minute)
	if err := a.Raise(AlarmSmartCommunicationError, "connection refused"); err != nil {
		t.Fatal(err)
	}
	got, ok, err := a.Get(AlarmSmartCommunicationError)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if !got.Raised.Equal(first) {
		t.Errorf("raised %v, want the first raise %v", got.Raised, first)
	}
	if !got.Updated.Equal(clk.Now()) {
		t.Errorf("updated %v, want %v", got.Updated, clk.Now())
	}
	if got.Detail != "connection refused" || got.Title == "" || got.Severity != SeverityWarning {
		t.Errorf("alarm = %+v", got)
	}
	// A second store on the same root (another process) sees it.
	other := NewAlarms(root, clk)
	if list, _ := other.List(); len(list) != 1 || list[0].ID != 30042 {
		t.Errorf("other store lists %v", list)
	}
	if err := other.Clear(AlarmSmartCommunicationError); err != nil {
		t.Fatal(err)
	}
	if err := a.Clear(AlarmSmartCommunicationError); err != nil {
		t.Errorf("clearing twice: %v", err)
	}
	if list, _ := a.List(); len(list) != 0 {
		t.Errorf("after clear: %v", list)
	}
}

func TestAlarmUnknownID(t *testing.T) {
	a := NewAlarms(t.TempDir(), nil)
	if err := a.Raise(12345, ""); !errors.Is(err, ErrUnknownAlarm) {
		t.Errorf("Raise(12345) err = %v, want ErrUnknownAlarm", err)
	}
}

func TestAlarmListOrderAndDamage(t *testing.T) {
	root := t.TempDir()
	clk := newTestClock()
	a := NewAlarms(root, clk)
	for _, id := range []int{40005, 30035, 40003} {
		if err := a.Raise(id, ""); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	// A damaged file still lists its alarm; stray files are ignored.
	dir := filepath.Join(root, AlarmDir)
	if err := os.WriteFile(filepath.Join(dir, "15013.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".40003.json.tmp123"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	list, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, al := range list {
		ids = append(ids, al.ID)
	}
	want := []int{15013, 40005, 30035, 40003}
	if len(ids) != len(want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids = %v, want %v", ids, want)
		}
	}
	if list[0].Title != KnownAlarms()[15013].Title {
		t.Errorf("damaged alarm title %q", list[0].Title)
	}
}

func TestAlarmsConcurrentStores(t *testing.T) {
	root := t.TempDir()
	var wg sync.WaitGroup
	ids := []int{30035, 30036, 30038, 30039, 30041, 30042, 30043, 30044}
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := NewAlarms(root, nil)
			for range 20 {
				if err := a.Raise(id, "x"); err != nil {
					t.Error(err)
				}
				if err := a.Raise(40003, "shared"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	list, err := NewAlarms(root, nil).List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(ids)+1 {
		t.Errorf("%d alarms, want %d", len(list), len(ids)+1)
	}
}

// TestAlarmReadsOtherWriters checks that an alarm file written by another
// component with the shared JSON shape lists with its own text.
func TestAlarmReadsOtherWriters(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, AlarmDir)
	os.MkdirAll(dir, 0o755)
	const f = `{"id": 30035, "component": "licensing", "severity": "info",
  "description": "Smart Licensing is in evaluation mode", "action": "Register",
  "raised": "2026-03-01T10:00:00Z"}`
	if err := os.WriteFile(filepath.Join(dir, "30035.json"), []byte(f), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := NewAlarms(root, nil).List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if al := list[0]; al.Title != "Smart Licensing is in evaluation mode" || al.Severity.String() != "Info" || al.Action != "Register" {
		t.Errorf("alarm = %+v", al)
	}
}

func TestAlarmRaiseWith(t *testing.T) {
	root := t.TempDir()
	clk := newTestClock()
	a := NewAlarms(root, clk)
	info := AlarmInfo{Severity: SeverityWarning, Title: "Disk almost full", Action: "Remove old logs"}
	if err := a.RaiseWith(49001, info, "storage", "95% used"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := a.RaiseWith(49001, info, "storage", "97% used"); err != nil {
		t.Fatal(err)
	}
	al, ok, err := a.Get(49001)
	if err != nil || !ok || al.Title != info.Title || al.Component != "storage" || al.Detail != "97% used" || !al.Raised.Equal(testStart) {
		t.Errorf("Get = %+v, %v, %v", al, ok, err)
	}
	if err := a.RaiseWith(0, info, "storage", ""); !errors.Is(err, ErrUnknownAlarm) {
		t.Errorf("id 0: %v", err)
	}
}
