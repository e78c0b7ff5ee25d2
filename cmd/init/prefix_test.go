package main

import (
	"strings"
	"testing"
)

func TestPrefixWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"netconf: up\n"}, "init: netconf: up\n"},
		{"two lines in one write", []string{"a\nb\n"}, "init: a\ninit: b\n"},
		{"line split over writes", []string{"fac", "tory: done\nnext", " line\n"}, "init: factory: done\ninit: next line\n"},
		{"empty write", []string{"", "x\n"}, "init: x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			w := newPrefixWriter(&b, "init: ")
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if b.String() != tt.want {
				t.Errorf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}
