package smbios

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// structure builds one SMBIOS structure: header, formatted bytes after
// it, strings.
func structure(typ byte, formatted []byte, strs ...string) []byte {
	b := []byte{typ, byte(4 + len(formatted)), 0, 0}
	b = append(b, formatted...)
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	if len(strs) == 0 {
		b = append(b, 0)
	}
	return append(b, 0)
}

func table(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestParseOEMStrings(t *testing.T) {
	bios := structure(0, []byte{1, 2, 0, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "EDK II", "stable", "02/02/2022")
	oem := structure(11, []byte{2}, "vxway.sip.advertise=127.0.0.1:5070", "other=1")
	end := structure(127, nil)
	tests := []struct {
		name  string
		table []byte
		want  []string
	}{
		{"bios, oem, end", table(bios, oem, end), []string{"vxway.sip.advertise=127.0.0.1:5070", "other=1"}},
		{"two oem structures", table(oem, structure(11, []byte{1}, "third"), end), []string{"vxway.sip.advertise=127.0.0.1:5070", "other=1", "third"}},
		{"count below the strings given", table(structure(11, []byte{1}, "a", "b"), end), []string{"a"}},
		{"empty oem", table(structure(11, []byte{0}), end), nil},
		{"nothing after end", table(end, oem), nil},
		{"no table", nil, nil},
		{"truncated strings", table(bios, oem)[:len(bios)+12], nil},
		{"length beyond the table", []byte{11, 200, 0, 0, 1}, nil},
		{"length below the header", []byte{11, 2, 0, 0, 0, 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseOEMStrings(tt.table); !slices.Equal(got, tt.want) {
				t.Errorf("ParseOEMStrings = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOEMStringsFromRoot(t *testing.T) {
	root := t.TempDir()
	if s, err := OEMStrings(root); s != nil || err != nil {
		t.Fatalf("without a table: %q, %v; want nothing", s, err)
	}
	p := filepath.Join(root, TablePath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, table(structure(11, []byte{1}, "vxway.sip.advertise=127.0.0.1:5070"), structure(127, nil)), 0o400); err != nil {
		t.Fatal(err)
	}
	s, err := OEMStrings(root)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Value(s, "vxway.sip.advertise"); !ok || v != "127.0.0.1:5070" {
		t.Errorf("Value = %q, %v", v, ok)
	}
	if _, ok := Value(s, "vxway.sip"); ok {
		t.Error("a key prefix matched")
	}
}

func FuzzParseOEMStrings(f *testing.F) {
	f.Add(table(structure(11, []byte{1}, "a=b"), structure(127, nil)))
	f.Add([]byte{11, 5, 0, 0, 9, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range ParseOEMStrings(b) {
			if len(s) > len(b) {
				t.Fatalf("a string longer than the table: %q", s)
			}
		}
	})
}
