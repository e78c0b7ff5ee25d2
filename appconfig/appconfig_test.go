package appconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimal = `version = 1
[users]
root_password = "TANDBERG"
admin_password = "TANDBERG"
[licensing]
direct_url = "https://licensing.example/x"
`

func TestSampleConfigLoads(t *testing.T) {
	c, err := Load(filepath.Join("..", "appliance.toml"))
	if err != nil {
		t.Fatalf("Load(appliance.toml): %v", err)
	}
	if c.Users.RootPassword != "TANDBERG" || c.Users.AdminPassword != "TANDBERG" {
		t.Errorf("sample passwords = %q/%q, want TANDBERG/TANDBERG", c.Users.RootPassword, c.Users.AdminPassword)
	}
	if c.Image.SizeMiB != 256 || c.System.Brand != "Expressway" {
		t.Errorf("sample image/brand = %d/%s", c.Image.SizeMiB, c.System.Brand)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Version:   1,
		Image:     Image{SizeMiB: DefaultSizeMiB, ESPMiB: DefaultESPMiB, PersistMiB: DefaultPersistMiB},
		Build:     Build{Seed: DefaultSeed, SoftwareVersion: DefaultSoftwareVersion},
		Kernel:    Kernel{Cmdline: DefaultCmdline},
		System:    System{Hostname: DefaultHostname, Brand: DefaultBrand, Type: DefaultType},
		Users:     Users{RootPassword: "TANDBERG", AdminPassword: "TANDBERG"},
		Licensing: Licensing{DirectURL: "https://licensing.example/x"},
	}
	if c.Image != want.Image || c.Build != want.Build || c.Kernel != want.Kernel || c.System != want.System || c.Users != want.Users || c.Licensing.DirectURL != want.Licensing.DirectURL {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, want)
	}
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bzImage"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := minimal + "trusted_ca_files = [\"ca.pem\"]\n[kernel]\npath = \"bzImage\"\n"
	c, err := Parse([]byte(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Licensing.TrustedCAFiles[0], filepath.Join(dir, "ca.pem"); got != want {
		t.Errorf("trusted CA = %s, want %s", got, want)
	}
	if got, want := c.Kernel.Path, filepath.Join(dir, "bzImage"); got != want {
		t.Errorf("kernel = %s, want %s", got, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings, each must appear
	}{
		{"unknown key", minimal + "colour = \"red\"\n", []string{`line 7: unknown key "licensing.colour"`}},
		{"unknown table", minimal + "[extra]\nx = 1\n", []string{`line 7: unknown key "extra"`, `line 8: unknown key "extra.x"`}},
		{"syntax", "version = 1\n[image\n", []string{"line 3:", "fix the TOML syntax"}},
		{"wrong type", "version = 1\n[image]\nsize_mib = \"big\"\n", []string{"line 3", "size_mib"}},
		{"missing version", strings.TrimPrefix(minimal, "version = 1\n"), []string{"version: is 0, want 1"}},
		{"bad values all reported", minimal + "[image]\nsize_mib = 10\n[system]\nbrand = \"Acme\"\nhostname = \"no spaces\"\n",
			[]string{"line 8: image.size_mib: 10 is out of range", `line 10: system.brand: "Acme" is not one of`, `line 11: system.hostname`}},
		{"missing password", "version = 1\n[licensing]\ndirect_url = \"https://a.example/\"\n", []string{"users.root_password: is missing", "users.admin_password: is missing"}},
		{"http url", strings.Replace(minimal, "https://", "http://", 1), []string{"line 6: licensing.direct_url", "not an https:// URL"}},
		{"missing CA file", minimal + "trusted_ca_files = [\"nope.pem\"]\n", []string{"line 7: licensing.trusted_ca_files", "nope.pem not found"}},
		{"missing upgrade CA file", minimal + "[upgrade]\ntrusted_ca_files = [\"dl.pem\", \"dl.key\"]\n", []string{"line 8: upgrade.trusted_ca_files", "dl.pem not found", "dl.key: the file name must end in .pem or .crt"}},
		{"missing kernel", minimal + "[kernel]\npath = \"nope/bzImage\"\n", []string{"line 8: kernel.path", "not found"}},
		{"console missing", minimal + "[kernel]\ncmdline = \"quiet\"\n", []string{"kernel.cmdline", "console=ttyS0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), t.TempDir())
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestBuildTime(t *testing.T) {
	c := &Config{Build: Build{SourceDateEpoch: 100}}
	tests := []struct {
		env     string
		want    int64
		wantErr bool
	}{
		{"", 100, false},
		{"200", 200, false},
		{"x", 0, true},
		{"-5", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got, err := c.BuildTime(tt.env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("BuildTime(%q) err = %v", tt.env, err)
			}
			if err == nil && got.Unix() != tt.want {
				t.Errorf("BuildTime(%q) = %d, want %d", tt.env, got.Unix(), tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("version = 1\n[image]\nsize_mib = 1\n"))
	f.Add([]byte("[a.b]\nc.d = 1\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, dir)
		if err == nil && len(c.Validate()) != 0 {
			t.Errorf("Parse accepted a config Validate rejects")
		}
	})
}

// TestTrustedCAFileNames: trusted_ca_files takes .pem and .crt files (ssm
// init writes ca.crt), installed under a .pem name that must not collide.
func TestTrustedCAFileNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string // relative to the config directory
		want  []string // trust store names, or nil for an error
		err   string
	}{
		{"pem", []string{"ca.pem"}, []string{"ca.pem"}, ""},
		{"crt from ssm init", []string{"ssmdata/ca.crt"}, []string{"ca.pem"}, ""},
		{"two managers", []string{"a/ca.crt", "b/other.pem"}, []string{"ca.pem", "other.pem"}, ""},
		{"crt and pem of one name", []string{"a/ca.crt", "b/ca.pem"}, nil, "two files named ca.pem in the trust store"},
		{"der", []string{"ca.der"}, nil, "must end in .pem or .crt"},
		{"bare suffix", []string{".crt"}, nil, "must end in .pem or .crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var quoted []string
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				quoted = append(quoted, `"`+f+`"`)
			}
			c, err := Parse([]byte(minimal+"trusted_ca_files = ["+strings.Join(quoted, ", ")+"]\n"), dir)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "line 7: licensing.trusted_ca_files") {
					t.Fatalf("Parse error %v, want one on line 7 saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range c.Licensing.TrustedCAFiles {
				if got, ok := TrustStoreName(p); !ok || got != tc.want[i] {
					t.Errorf("TrustStoreName(%s) = %q, %v, want %q", p, got, ok, tc.want[i])
				}
			}
		})
	}
}
