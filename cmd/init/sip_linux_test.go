package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vxway/clock"
	"vxway/smbios"
	"vxway/testsupport"
)

// oemTable is an SMBIOS table with one OEM strings structure.
func oemTable(strs ...string) []byte {
	b := []byte{11, 5, 0, 0, byte(len(strs))}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return append(b, 0, 127, 4, 0, 0, 0, 0)
}

func TestSIPArgsAdvertise(t *testing.T) {
	tests := []struct {
		name  string
		table []byte // nil: no table
		want  string // the --advertise value, "" for none
		log   string
	}{
		{"no table", nil, "", ""},
		{"no key", oemTable("other=1"), "", ""},
		{"forwarded port", oemTable("other=1", "vxway.sip.advertise=127.0.0.1:5070"), "127.0.0.1:5070", "advertising 127.0.0.1:5070"},
		{"bad value", oemTable("vxway.sip.advertise=127.0.0.1:0"), "", "ignored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.table != nil {
				p := filepath.Join(root, smbios.TablePath)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, tt.table, 0o400); err != nil {
					t.Fatal(err)
				}
			}
			console := &testsupport.SyncBuffer{}
			d := &device{root: root, console: console, clock: clock.Real{}}
			args := d.sipArgs()
			i := slices.Index(args, "--advertise")
			got := ""
			if i >= 0 && i+1 < len(args) {
				got = args[i+1]
			}
			if got != tt.want {
				t.Errorf("--advertise %q, want %q (args %q)", got, tt.want, args)
			}
			if !strings.Contains(console.String(), tt.log) {
				t.Errorf("console %q lacks %q", console.String(), tt.log)
			}
		})
	}
}
