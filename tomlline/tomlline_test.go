package tomlline

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestLines(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		want   map[string]int
		absent []string
	}{
		{
			name: "tables and keys",
			doc:  "# comment\nversion = 1\n\n[image]\nsize_mib = 256\n[kernel]\npath = \"x\"\n",
			want: map[string]int{"version": 2, "image": 4, "image.size_mib": 5, "kernel": 6, "kernel.path": 7},
		},
		{
			name: "quoted keys, spaces around dots and a table header with spaces",
			doc:  "\"instance_id\" = 'x'\n[ network ]\nntp . servers = []\n[users.\"admin\"]\npassword = \"p=q\"\n",
			want: map[string]int{"instance_id": 1, "network": 2, "network.ntp": 3, "network.ntp.servers": 3, "users": 4, "users.admin": 4, "users.admin.password": 5},
		},
		{
			name: "dotted keys record their prefixes; the first line wins",
			doc:  "a.b.c = 1\na.d = 2\n",
			want: map[string]int{"a": 1, "a.b": 1, "a.b.c": 1, "a.d": 2},
		},
		{
			name:   "multi-line strings are skipped",
			doc:    "text = \"\"\"\nfake = 1\n\"\"\"\nlit = '''\n[fake]\n'''\nafter = 1\n",
			want:   map[string]int{"text": 1, "lit": 4, "after": 7},
			absent: []string{"fake"},
		},
		{
			name:   "a multi-line string that closes on its own line with text after",
			doc:    "text = \"\"\"\nfake = 1\n\"\"\" \nnext = 2\n",
			want:   map[string]int{"text": 1, "next": 4},
			absent: []string{"fake"},
		},
		{
			name:   "multi-line arrays with brackets in strings and comments",
			doc:    "[network]\ndns_servers = [ # c\n \"a]\", # ] not the end\n \"fake = 1\",\n]\ndhcp = true\n",
			want:   map[string]int{"network": 1, "network.dns_servers": 2, "network.dhcp": 6},
			absent: []string{"fake", "network.fake"},
		},
		{
			name: "array of tables",
			doc:  "[[users]]\nname = \"a\"\n",
			want: map[string]int{"users": 1, "users.name": 2},
		},
		{
			name: "CRLF line ends",
			doc:  "version = 1\r\n[image]\r\nsize_mib = 2\r\n",
			want: map[string]int{"version": 1, "image": 2, "image.size_mib": 3},
		},
		{
			name: "inline table",
			doc:  "t = { a = 1 }\nu = 2\n",
			want: map[string]int{"t": 1, "u": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v map[string]any
			if _, err := toml.Decode(tt.doc, &v); err != nil {
				t.Fatalf("the test document is not TOML: %v", err)
			}
			got := Lines(tt.doc)
			for k, n := range tt.want {
				if got[k] != n {
					t.Errorf("line of %q = %d, want %d (all: %v)", k, got[k], n, got)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%q recorded at line %d, but it is inside a value", k, got[k])
				}
			}
		})
	}
}

// FuzzLines checks that the scanner neither panics nor gives a top-level
// key the decoder sees a line outside the document.
func FuzzLines(f *testing.F) {
	f.Add("version = 1\ninstance_id = \"a\"\n[network]\ndns_servers = [\n\"x\",\n]\n")
	f.Add("version = 1\n[[users]]\nx = 1\n")
	f.Add("a.b.c = '''\nx\n'''\n[t]\nk = { a = 1 }\n")
	f.Fuzz(func(t *testing.T, doc string) {
		var v map[string]any
		md, err := toml.Decode(doc, &v)
		if err != nil {
			return
		}
		got := Lines(doc)
		n := strings.Count(doc, "\n") + 1
		for _, k := range md.Keys() {
			if len(k) == 0 {
				continue
			}
			line, ok := got[k[0]]
			if ok && (line < 1 || line > n) {
				t.Errorf("key %q at line %d of a %d-line document", k[0], line, n)
			}
		}
	})
}
