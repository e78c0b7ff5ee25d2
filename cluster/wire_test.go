package cluster

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestDecodeMessage(t *testing.T) {
	for _, tt := range []struct {
		name, line string
		ok         bool
	}{
		{"borrow", `{"seq":1,"op":"borrow","type":"rms","count":1}`, true},
		{"renew empty", `{"seq":2,"op":"renew"}`, true},
		{"renew", `{"seq":2,"op":"renew","loans":[{"id":"0123456789abcdef","type":"rms","count":3}]}`, true},
		{"answer", `{"seq":2,"op":"answer","lease_ms":120000}`, true},
		{"unknown op", `{"seq":1,"op":"steal","type":"rms","count":1}`, false},
		{"unknown type", `{"seq":1,"op":"borrow","type":"gold","count":1}`, false},
		{"zero count", `{"seq":1,"op":"borrow","type":"rms","count":0}`, false},
		{"huge count", `{"seq":1,"op":"borrow","type":"rms","count":1000001}`, false},
		{"bad id", `{"seq":2,"op":"renew","loans":[{"id":"../../etc","type":"rms","count":3}]}`, false},
		{"negative loan", `{"seq":2,"op":"return","loans":[{"id":"0123456789abcdef","type":"rms","count":-1}]}`, false},
		{"unknown field", `{"seq":1,"op":"renew","admin":true}`, false},
		{"trailing", `{"seq":1,"op":"renew"} {}`, false},
		{"long lease", `{"seq":2,"op":"answer","lease_ms":99999999}`, false},
		{"not json", `hello`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMessage([]byte(tt.line), types)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, errMessage) {
				t.Fatalf("error %v does not wrap errMessage", err)
			}
		})
	}
}

func TestReadLineCap(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", 3*maxMessage)+"\n"), 4096)
	if _, err := readLine(r, maxMessage); !errors.Is(err, errMessage) {
		t.Fatalf("an oversized line: %v", err)
	}
	r = bufio.NewReaderSize(strings.NewReader("{}\n{\"a\":1}\n"), 4096)
	for _, want := range []string{"{}\n", "{\"a\":1}\n"} {
		b, err := readLine(r, maxMessage)
		if err != nil || string(b) != want {
			t.Fatalf("got %q, %v; want %q", b, err, want)
		}
	}
	if _, err := readLine(bufio.NewReader(strings.NewReader("{")), maxMessage); !errors.Is(err, errMessage) {
		t.Fatalf("a line cut short: %v", err)
	}
}

// FuzzDecodeMessage: whatever a peer sends, the decoder returns a checked
// message or an error, and a message it accepts encodes again within the
// cap.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"seq":1,"op":"borrow","type":"rms","count":1}`,
		`{"seq":2,"op":"renew","loans":[{"id":"0123456789abcdef","type":"rms","count":3}]}`,
		`{"seq":2,"op":"answer","lease_ms":120000,"refused":true}`,
		`{"v":1,"node":"A1B2C3D4","proof":"` + strings.Repeat("ab", proofLen) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeMessage(b, types); err == nil {
			if m.Count < 0 || m.Count > maxCount || len(m.Loans) > maxLoans {
				t.Fatalf("accepted out of range: %+v", m)
			}
			for _, l := range m.Loans {
				if !validID(l.ID) {
					t.Fatalf("accepted loan id %q", l.ID)
				}
			}
			if len(b) < maxMessage/2 {
				if _, err := encodeLine(m); err != nil {
					t.Fatal(err)
				}
			}
		}
		if h, err := decodeHello(b); err == nil {
			if checkNodeName(h.Node) != nil || len(h.Proof) != 2*proofLen {
				t.Fatalf("accepted hello %+v", h)
			}
		}
		r := bufio.NewReaderSize(strings.NewReader(string(b)), 16)
		if line, err := readLine(r, 64); err == nil && len(line) > 64 {
			t.Fatalf("line of %d bytes over the cap", len(line))
		}
	})
}
