package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type setting struct {
	Mode bool   `json:"mode"`
	Name string `json:"name,omitempty"`
}

func TestReadJSON(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string // "" leaves the file out
		strict  bool
		found   bool
		want    setting
		err     string // in the error, with the path; "" for none
	}{
		{name: "missing keeps the defaults", want: setting{Name: "default"}},
		{name: "missing, strict", strict: true, want: setting{Name: "default"}},
		{name: "read", content: `{"mode": true}`, found: true, want: setting{Mode: true, Name: "default"}},
		{name: "read, strict", content: "{\"mode\": true, \"name\": \"x\"}\n", strict: true, found: true, want: setting{Mode: true, Name: "x"}},
		{name: "unknown field kept apart", content: `{"mode": true, "extra": 1}`, found: true, want: setting{Mode: true, Name: "default"}},
		{name: "unknown field, strict", content: `{"mode": true, "extra": 1}`, strict: true, err: `parsing`},
		{name: "trailing data", content: `{"mode": true} {}`, err: "parsing"},
		{name: "trailing data, strict", content: `{"mode": true} {}`, strict: true, err: "data after the JSON value"},
		{name: "malformed", content: `{"mode": tru`, err: "parsing"},
		{name: "malformed, strict", content: `{"mode": tru`, strict: true, err: "parsing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "setting.json")
			if tc.content != "" {
				if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got := setting{Name: "default"}
			read := ReadJSON
			if tc.strict {
				read = ReadJSONStrict
			}
			found, err := read(p, &got)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), p) {
					t.Fatalf("error %v, want one with %q and the path", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found || got != tc.want {
				t.Errorf("ReadJSON = %v, %+v; want %v, %+v", found, got, tc.found, tc.want)
			}
		})
	}
}

// TestReadJSONUnreadable: an error other than a missing file is an error.
func TestReadJSONUnreadable(t *testing.T) {
	p := t.TempDir() // a directory cannot be read as a file
	var s setting
	found, err := ReadJSON(p, &s)
	if err == nil || found || errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadJSON(directory) = %v, %v; want a read error", found, err)
	}
}

// TestReadJSONRoundTrip: what WriteJSON writes, ReadJSONStrict reads back.
func TestReadJSONRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d", "setting.json")
	want := setting{Mode: true, Name: "x"}
	if err := WriteJSON(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	var got setting
	if found, err := ReadJSONStrict(p, &got); err != nil || !found || got != want {
		t.Errorf("ReadJSONStrict = %v, %v, %+v; want %+v", found, err, got, want)
	}
}
