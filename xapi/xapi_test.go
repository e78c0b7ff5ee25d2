package xapi

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
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
