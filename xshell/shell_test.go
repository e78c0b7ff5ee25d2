package xshell

import (
	"context"
	"errors"
	"strings"
	"testing"

	"vxway/xapi"
)

func echoTree() *xapi.Tree {
	t := &xapi.Tree{}
	t.Handle(xapi.Status, "Echo", func(_ context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
		if len(rel) > 0 && rel[0] == "Fail" {
			return errors.New("asked to fail")
		}
		out.Status("Echo", strings.Join(rel, " "))
		return nil
	})
	return t
}

func TestShellSession(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"one request then eof", "xstatus Echo a b\n", "> *s Echo: \"a b\"\nOK\n> \n"},
		{"failure keeps going", "xstatus Echo Fail\nxstatus Echo ok\nquit\n", "> *r Reason: \"asked to fail\"\nERROR\n> *s Echo: \"ok\"\nOK\n> "},
		{"blank and comment lines", "\n# note\n  \nexit\n", "> > > > "},
		{"last line without newline", "xstatus Echo x", "> *s Echo: \"x\"\nOK\n"},
		{"too long", strings.Repeat("x", xapi.MaxLineBytes+10) + "\nexit\n", "> *r Reason: \"line longer than 65536 bytes ignored\"\nERROR\n> "},
		{"unknown word", "ls -l\nexit\n", "> *r Reason: \"unknown command \\\"ls\\\"; type help for the commands\"\nERROR\n> "},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			sh := &Shell{Tree: echoTree(), In: strings.NewReader(c.in), Out: &out, Prompt: "> "}
			if err := sh.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("session output\n got %q\nwant %q", out.String(), c.want)
			}
		})
	}
}

func TestRunArgs(t *testing.T) {
	var out strings.Builder
	err := RunArgs(context.Background(), echoTree(), xapi.Status, []string{"Echo", "Fail"}, &out)
	if !errors.Is(err, ErrFailed) || out.String() != "*r Reason: \"asked to fail\"\nERROR\n" {
		t.Errorf("RunArgs = %v, %q", err, out.String())
	}
	out.Reset()
	err = RunArgs(context.Background(), echoTree(), xapi.Configuration, []string{"A:", "1", "B:", "2"}, &out)
	if !errors.Is(err, ErrFailed) || !strings.Contains(out.String(), "xconfiguration sets one value") {
		t.Errorf("bad syntax: %v, %q", err, out.String())
	}
}

func TestNewTreeServesPlatform(t *testing.T) {
	var out strings.Builder
	tree := NewTree(t.TempDir(), nil)
	if err := RunLine(context.Background(), tree, "xconfiguration SystemUnit ServiceSelect Brand", &out); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if out.String() != "*c xConfiguration SystemUnit ServiceSelect Brand: VCS\nOK\n" {
		t.Errorf("got %q", out.String())
	}
}

// FuzzShell feeds arbitrary input to a session: it must end without
// error, and every failed line must have been answered with ERROR.
func FuzzShell(f *testing.F) {
	for _, s := range []string{
		"xstatus Echo a\n", "help\nexit\n", "xconfiguration A: \"b c\"\n", "xcommand \"\n", "\x00\x04\r\n", "xstatus Echo Fail\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var out strings.Builder
		sh := &Shell{Tree: echoTree(), In: strings.NewReader(in), Out: &out}
		if err := sh.Run(context.Background()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if errs := strings.Count(out.String(), "ERROR\n"); errs < sh.Failed() {
			t.Fatalf("%d failures but %d ERROR lines:\n%q", sh.Failed(), errs, out.String())
		}
	})
}

func TestBareCommand(t *testing.T) {
	var out strings.Builder
	err := RunLine(context.Background(), echoTree(), "xcommand", &out)
	if !errors.Is(err, ErrFailed) || !strings.Contains(out.String(), "xcommand needs the command's path") {
		t.Errorf("bare xcommand: %v %q", err, out.String())
	}
}
