package journal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, root, rel string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

const jrel = "data/x/journal.json"

// A change that fails half-way, or that a power cut stops, is undone:
// the changed file gets its content and mode back, the new file goes.
func TestRollbackAndRecover(t *testing.T) {
	for _, tc := range []struct {
		name string
		undo func(t *testing.T, root string, j *Journal)
	}{
		{"rollback", func(t *testing.T, root string, j *Journal) {
			if err := j.Rollback(); err != nil {
				t.Fatal(err)
			}
		}},
		{"recover after a power cut", func(t *testing.T, root string, j *Journal) {
			n, err := Recover(root, jrel)
			if err != nil || n != 2 {
				t.Fatalf("Recover = %d, %v; want 2 files put back", n, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "data/a.json", "old")
			j, err := Begin(root, jrel, []string{"data/a.json", "data/new/b.json", "data/a.json"})
			if err != nil {
				t.Fatal(err)
			}
			if len(j.Files()) != 2 {
				t.Errorf("journal holds %d files, want 2 (duplicates once)", len(j.Files()))
			}
			write(t, root, "data/a.json", "new")
			write(t, root, "data/new/b.json", "new")
			tc.undo(t, root, j)
			if got, _ := read(t, root, "data/a.json"); got != "old" {
				t.Errorf("a.json = %q, want old", got)
			}
			if fi, err := os.Stat(filepath.Join(root, "data/a.json")); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("a.json mode = %v, %v; want 0640", fi.Mode(), err)
			}
			if _, ok := read(t, root, "data/new/b.json"); ok {
				t.Error("b.json, new in the change, is still there")
			}
			if _, ok := read(t, root, jrel); ok {
				t.Error("the journal is still there")
			}
		})
	}
}

func TestRecoverWithoutJournal(t *testing.T) {
	if n, err := Recover(t.TempDir(), jrel); n != 0 || err != nil {
		t.Errorf("Recover = %d, %v; want 0, nil", n, err)
	}
}

// A journal that does not decode was never complete: nothing had changed,
// it is removed and reported.
func TestRecoverUnreadable(t *testing.T) {
	root := t.TempDir()
	write(t, root, jrel, "{half")
	write(t, root, "data/a.json", "keep")
	n, err := Recover(root, jrel)
	if !errors.Is(err, ErrUnreadable) || n != 0 {
		t.Fatalf("Recover = %d, %v; want ErrUnreadable", n, err)
	}
	if _, ok := read(t, root, jrel); ok {
		t.Error("the unreadable journal is still there")
	}
	if got, _ := read(t, root, "data/a.json"); got != "keep" {
		t.Errorf("a.json = %q", got)
	}
}

// Done keeps the change.
func TestDone(t *testing.T) {
	root := t.TempDir()
	j, err := Begin(root, jrel, []string{"data/a.json"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, "data/a.json", "new")
	if err := j.Done(); err != nil {
		t.Fatal(err)
	}
	if n, err := Recover(root, jrel); n != 0 || err != nil {
		t.Errorf("Recover after Done = %d, %v", n, err)
	}
	if got, _ := read(t, root, "data/a.json"); got != "new" {
		t.Errorf("a.json = %q, want new", got)
	}
}
