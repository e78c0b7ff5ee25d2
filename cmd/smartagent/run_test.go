package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCommandLine: help and bad command lines, which never start the
// agent (no root is touched: the root given does not exist).
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		out     []string // in the standard output
		notOut  string
		errText []string // in the error; none means success
	}{
		{name: "help", args: []string{"--help"}, out: []string{"smartagent - Smart Licensing agent", "--root DIR", "--socket PATH", "--timeout DURATION", `(default: "30s")`}, notOut: "retry-every"},
		{name: "short help", args: []string{"-h"}, out: []string{"--root DIR"}},
		{name: "unknown option", args: []string{"--bogus"}, errText: []string{"-bogus", "smartagent --help lists the options"}},
		{name: "bad duration", args: []string{"--timeout", "3x"}, errText: []string{`"3x"`, "-timeout", "--help"}},
		{name: "missing value", args: []string{"--root"}, errText: []string{"-root", "--help"}},
		{name: "argument", args: []string{"--root", "/nonexistent", "serve"}, errText: []string{`unexpected argument "serve"`, "options only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"smartagent"}, tc.args...), nil, &stdout, &stderr)
			if len(tc.errText) == 0 && err != nil {
				t.Fatalf("run %v: %v", tc.args, err)
			}
			if len(tc.errText) > 0 {
				if err == nil {
					t.Fatalf("run %v succeeded, want an error", tc.args)
				}
				for _, w := range tc.errText {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("run %v: error %q lacks %q", tc.args, err, w)
					}
				}
			}
			for _, w := range tc.out {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("run %v: output lacks %q:\n%s", tc.args, w, stdout.String())
				}
			}
			if tc.notOut != "" && strings.Contains(stdout.String(), tc.notOut) {
				t.Errorf("run %v: output shows %q:\n%s", tc.args, tc.notOut, stdout.String())
			}
		})
	}
}
