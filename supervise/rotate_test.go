package supervise

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log", "svc.log")
	r := &RotatingFile{Path: path, MaxSize: 10, Keep: 2}
	for _, line := range []string{"aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n"} {
		if _, err := r.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"svc.log":   "gggg\n",
		"svc.log.1": "eeee\nffff\n",
		"svc.log.2": "cccc\ndddd\n",
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "svc.log svc.log.1 svc.log.2" {
		t.Errorf("files = %v, want svc.log svc.log.1 svc.log.2 (oldest dropped)", names)
	}
	for name, w := range want {
		got, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
}

func TestRotatingFileAppendsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	for _, s := range []string{"12345", "678"} {
		r := &RotatingFile{Path: path, MaxSize: 10, Keep: 1}
		if _, err := r.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	r := &RotatingFile{Path: path, MaxSize: 10, Keep: 1}
	if _, err := r.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	got, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if string(got) != "abc" || string(old) != "12345678" {
		t.Errorf("after reopen: log %q, log.1 %q; want \"abc\", \"12345678\"", got, old)
	}
}

func TestRotatingFileKeepZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	r := &RotatingFile{Path: path, MaxSize: 4, Keep: 0}
	r.Write([]byte("1234"))
	r.Write([]byte("5678"))
	r.Close()
	got, _ := os.ReadFile(path)
	if string(got) != "5678" {
		t.Errorf("log = %q, want 5678", got)
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Errorf("Keep 0 left %s.1", path)
	}
}
