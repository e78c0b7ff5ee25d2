package factoryreset

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vxway/platform"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// subset returns the items whose bit is set in mask.
func subset(mask int) []Item {
	var s []Item
	for _, i := range Items() {
		if mask&(1<<int(i)) != 0 {
			s = append(s, i)
		}
	}
	return s
}

// TestPlanEveryCombination checks every keep-set on both brands: what is
// kept and wiped, the -o rule, and the brand and licensing outcomes.
func TestPlanEveryCombination(t *testing.T) {
	for _, brand := range []platform.Brand{platform.BrandExpressway, platform.BrandVCS} {
		for mask := 0; mask < 1<<int(itemCount); mask++ {
			keep := subset(mask)
			name := string(brand) + "/" + flagString(keep)
			t.Run(name, func(t *testing.T) {
				p, err := NewPlan(brand, keep...)
				if slices.Contains(keep, OptionKeys) && brand == platform.BrandExpressway {
					if !errors.Is(err, ErrOptionKeysRemoved) {
						t.Fatalf("NewPlan = %v, want ErrOptionKeysRemoved", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(p.Keep, keep) {
					t.Errorf("Keep = %v, want %v", p.Keep, keep)
				}
				all := append(slices.Clone(p.Keep), p.Wiped()...)
				slices.Sort(all)
				if !slices.Equal(all, ItemsFor(brand)) {
					t.Errorf("kept %v + wiped %v is not every item of %s", p.Keep, p.Wiped(), brand)
				}
				var wantPaths []Path
				for _, i := range keep {
					wantPaths = append(wantPaths, i.Paths()...)
				}
				if got := p.Paths(); len(got) != len(wantPaths) {
					t.Errorf("Paths = %v, want %v", got, wantPaths)
				}
				out := p.Outcomes()
				setsBrand := slices.ContainsFunc(out, func(o Outcome) bool {
					return o == SetServiceSelect{Brand: platform.BrandVCS, Type: platform.TypeC}
				})
				if setsBrand == slices.Contains(keep, BrandType) {
					t.Errorf("outcomes %v: SetServiceSelect present %v with brand kept %v", out, setsBrand, slices.Contains(keep, BrandType))
				}
				text := p.String()
				direct := strings.Contains(text, "transport Direct")
				wantDirect := !slices.Contains(keep, Licensing) && slices.Contains(keep, BrandType) && brand == platform.BrandExpressway
				if direct != wantDirect {
					t.Errorf("plan says transport Direct: %v, want %v\n%s", direct, wantDirect, text)
				}
				if !strings.Contains(text, "MS Interop option key is kept") || !strings.Contains(text, "evaluation period is not restarted") {
					t.Errorf("plan does not promise the MS Interop key and the evaluation period:\n%s", text)
				}
			})
		}
	}
}

func flagString(items []Item) string {
	if len(items) == 0 {
		return "none"
	}
	var b strings.Builder
	for _, i := range items {
		b.WriteString("-" + i.Flag())
	}
	return b.String()
}

// TestPlanString compares the dry-run text of a few plans with golden
// files (go test -update rewrites them).
func TestPlanString(t *testing.T) {
	tests := []struct {
		name  string
		brand platform.Brand
		keep  []Item
	}{
		{"expressway-nothing", platform.BrandExpressway, nil},
		{"expressway-everything", platform.BrandExpressway, ItemsFor(platform.BrandExpressway)},
		{"expressway-licensing-only", platform.BrandExpressway, []Item{Licensing}},
		{"expressway-brand-not-licensing", platform.BrandExpressway, []Item{BrandType, IP, SSHKeys}},
		{"vcs-option-keys", platform.BrandVCS, []Item{OptionKeys, Passwords}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(tt.brand, tt.keep...)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			got := p.String()
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("plan text (-want +got):\n-%s\n+%s", want, got)
			}
		})
	}
}

func TestItemsStable(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range Items() {
		for _, s := range []string{i.Name(), i.Flag(), i.LongFlag()} {
			if seen[s] {
				t.Errorf("%q used twice", s)
			}
			seen[s] = true
		}
		got, err := ParseItem(i.Name())
		if err != nil || got != i {
			t.Errorf("ParseItem(%q) = %v, %v", i.Name(), got, err)
		}
		if len(i.Paths()) == 0 {
			t.Errorf("%s keeps no path", i)
		}
	}
	if _, err := ParseItem("everything"); !errors.Is(err, ErrUnknownItem) {
		t.Errorf("ParseItem(everything) = %v, want ErrUnknownItem", err)
	}
	if _, err := NewPlan("Cisco TelePresence"); err == nil {
		t.Error("NewPlan accepted an unknown brand")
	}
}

func TestPromptOrderFollowsSpec(t *testing.T) {
	want := []string{
		"Keep brand and type of the device",
		"Keep smart licensing settings",
		"Keep FIPS 140 configuration",
		"Keep IP configuration",
		"Keep dedicated management interface configuration",
		"Keep ssh keys",
		"Keep server certificate, associated key and CA trust store",
		"Keep root and admin passwords",
		"Save log files",
	}
	var got []string
	for _, i := range ItemsFor(platform.BrandExpressway) {
		got = append(got, i.Prompt())
	}
	if !slices.Equal(got, want) {
		t.Errorf("prompts (-want +got):\n-%q\n+%q", want, got)
	}
}
