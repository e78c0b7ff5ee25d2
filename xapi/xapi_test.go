package xapi

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want *Request
	}{
		{"status", "xstatus License Smart", &Request{Kind: Status, Path: []string{"License", "Smart"}}},
		{"config set", "xconfiguration License Smart Transport Mode: Direct",
			&Request{Kind: Configuration, Path: []string{"License", "Smart", "Transport"}, Args: []Arg{{"Mode", "Direct"}}}},
		{"config quoted", `xconfiguration License Smart Transport URL: "https://a.example/SmartTransport"`,
			&Request{Kind: Configuration, Path: []string{"License", "Smart", "Transport"}, Args: []Arg{{"URL", "https://a.example/SmartTransport"}}}},
		{"indexed", "xconfiguration DNS Server 1 Address: 10.0.2.2",
			&Request{Kind: Configuration, Path: []string{"DNS", "Server", "1"}, Args: []Arg{{"Address", "10.0.2.2"}}}},
		{"command args", `xcommand License Smart Register Token: "abc def" Reregister: Yes`,
			&Request{Kind: Command, Path: []string{"License", "Smart", "Register"}, Args: []Arg{{"Token", "abc def"}, {"Reregister", "Yes"}}}},
		{"glued", `xcommand License Smart Register Token:abc`,
			&Request{Kind: Command, Path: []string{"License", "Smart", "Register"}, Args: []Arg{{"Token", "abc"}}}},
		{"positional", `xcommand License Smart Reservation Install "<specificPLR><a>1</a></specificPLR>"`,
			&Request{Kind: Command, Path: []string{"License", "Smart", "Reservation", "Install"}, Args: []Arg{{"", "<specificPLR><a>1</a></specificPLR>"}}}},
		{"positional compact", `xcommand License Smart Reservation Install CAVfS8-tqmsHn-ntioqo-Z8Q4wK-jsddDU-3YkM`,
			&Request{Kind: Command, Path: []string{"License", "Smart", "Reservation", "Install", "CAVfS8-tqmsHn-ntioqo-Z8Q4wK-jsddDU-3YkM"}}},
		{"escaped quote", `xcommand A B Name: "say \"hi\""`,
			&Request{Kind: Command, Path: []string{"A", "B"}, Args: []Arg{{"Name", `say "hi"`}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLine(%q)\n got %#v\nwant %#v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, line := range []string{
		`xcommand A Token: "open`,
		`xcommand A Token:`,
		`xfoo A`,
		`xconfiguration A B: 1 C: 2`,
		"xcommand A Token: " + strings.Repeat("x", MaxLineBytes),
		"",
	} {
		if _, err := ParseLine(line); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseLine(%.40q) = %v, want ErrSyntax", line, err)
		}
	}
}

func TestTreeServe(t *testing.T) {
	var tree Tree
	tree.Handle(Status, "SystemUnit", func(ctx context.Context, req *Request, rel []string, out *Writer) error {
		out.Status("SystemUnit Product", "Expressway")
		return nil
	})
	tree.Handle(Status, "License", func(ctx context.Context, req *Request, rel []string, out *Writer) error {
		out.Status("License Mode", "Smart")
		return nil
	})
	tree.Handle(Command, "License Smart", func(ctx context.Context, req *Request, rel []string, out *Writer) error {
		if PathIs(rel, "Deregister") {
			out.Result("License Smart Deregister Status", "Done")
			return nil
		}
		return errors.New("unknown command")
	})
	tests := []struct {
		line, want string
		fail       bool
	}{
		{"xstatus", "*s License Mode: \"Smart\"\n*s SystemUnit Product: \"Expressway\"\nOK\n", false},
		{"xstatus systemunit", "*s SystemUnit Product: \"Expressway\"\nOK\n", false},
		{"xcommand License Smart deregister", "*r License Smart Deregister Status: \"Done\"\nOK\n", false},
		{"xcommand License Smart Other", "*r Reason: \"unknown command\"\nERROR\n", true},
		{"xstatus Nothing", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			req, err := ParseLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			err = tree.Serve(context.Background(), req, NewWriter(&b))
			if (err != nil) != tt.fail {
				t.Fatalf("Serve error = %v, want failure %v", err, tt.fail)
			}
			if tt.want != "" && b.String() != tt.want {
				t.Errorf("output (-want +got):\n-%q\n+%q", tt.want, b.String())
			}
			if tt.fail && !strings.HasSuffix(b.String(), "ERROR\n") {
				t.Errorf("failed answer does not end in ERROR: %q", b.String())
			}
		})
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add(`xcommand License Smart Register Token: "abc" Reregister: Yes`)
	f.Add(`xconfiguration DNS Server 1 Address: 10.0.2.2`)
	f.Fuzz(func(t *testing.T, line string) {
		req, err := ParseLine(line)
		if err != nil {
			return
		}
		again, err := ParseLine(req.String())
		if err != nil {
			t.Fatalf("re-parsing %q: %v", req.String(), err)
		}
		if req.Kind != again.Kind || len(req.Args) != len(again.Args) {
			t.Fatalf("round trip changed %q into %q", line, req.String())
		}
	})
}

func TestQuoteEscapesControls(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Registered", `"Registered"`},
		{"quote and backslash", `a "b" \c`, `"a \"b\" \\c"`},
		{"newline", "a\nb", `"a\nb"`},
		{"carriage return", "ok\rfake", `"ok\rfake"`},
		{"tab", "a\tb", `"a\tb"`},
		{"escape sequence", "\x1b[2J\x1b]0;owned\x07", `"\e[2J\e]0;owned\x07"`},
		{"bell and nul", "\x07\x00", `"\x07\x00"`},
		{"delete", "a\x7fb", `"a\x7fb"`},
		{"C1 CSI", "a\u009b31mred", `"a\u009b31mred"`},
		{"C1 OSC and ST", "\u009d0;t\u009c", `"\u009d0;t\u009c"`},
		{"invalid UTF-8", "a\xff\xc2b", `"a\xff\xc2b"`},
		{"raw C1 byte", "\x9b", `"\x9b"`},
		{"bidi override", "abc\u202edef", `"abc\u202edef"`},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"printable Unicode kept", "Genève – 東京", `"Genève – 東京"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestWriterEscapes checks that every line kind goes through Quote: a
// reason from the network cannot end the line or reach the terminal raw.
func TestWriterEscapes(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	evil := "x\r\n*r Fake: \"1\"\x1b[2K"
	w.Status("A", evil)
	w.Result("B", evil)
	w.Config("C", evil)
	w.Fail(evil)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if !safeForTerminal(l) {
			t.Errorf("line %q holds a control character", l)
		}
	}
}

// safeForTerminal reports whether s is valid UTF-8 without control or
// hidden formatting characters.
func safeForTerminal(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || hiddenControl(r) {
			return false
		}
	}
	return true
}

func FuzzQuote(f *testing.F) {
	f.Add("plain")
	f.Add("\x1b[31m\r\n\x07")
	f.Add("\u009b\xff\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if !safeForTerminal(q) {
			t.Fatalf("Quote(%q) = %q holds a control character", s, q)
		}
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("Quote(%q) = %q is not in double quotes", s, q)
		}
		// Inside, every double quote is escaped, so the value ends where
		// the quotes say it does.
		inner := q[1 : len(q)-1]
		for i := 0; i < len(inner); i++ {
			switch inner[i] {
			case '\\':
				i++
			case '"':
				t.Fatalf("Quote(%q) = %q has a bare quote inside", s, q)
			}
		}
		if isPlain(s) && q != `"`+s+`"` {
			t.Fatalf("Quote(%q) = %q changed plain text", s, q)
		}
	})
}

// isPlain reports whether s needs no escaping at all.
func isPlain(s string) bool {
	return safeForTerminal(s) && !strings.ContainsAny(s, `"\`)
}
