package platform

import (
	"errors"
	"testing"
)

func TestSystemConfigDefaults(t *testing.T) {
	for _, c := range []struct {
		name, imageBrand string
		wantBrand        Brand
		wantSL           bool
	}{
		{"expressway image", "Expressway", BrandExpressway, true},
		{"vcs image", "VCS", BrandVCS, false},
		{"no brand in image", "", DefaultBrand, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newTestRoot(t, c.imageBrand)
			cfg, err := LoadSystemConfig(root)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Brand != c.wantBrand || cfg.SmartLicensingEnabled != c.wantSL || cfg.Hostname != "expe01" || cfg.Type != TypeC {
				t.Errorf("defaults = %+v", cfg)
			}
		})
	}
	cfg, err := LoadSystemConfig(t.TempDir())
	if err != nil || cfg.Brand != DefaultBrand || cfg.Hostname != DefaultHostname {
		t.Errorf("without image.json: %+v, %v", cfg, err)
	}
}

func TestSystemConfigSaveValidates(t *testing.T) {
	root := newTestRoot(t, "VCS")
	good := SystemConfig{Hostname: "vcs-1", Domain: "example.com", Brand: BrandVCS, Type: TypeE}
	if err := SaveSystemConfig(root, good); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSystemConfig(root)
	if err != nil || got != good {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []SystemConfig{
		{Hostname: "x", Brand: "Tandberg", Type: TypeC},
		{Hostname: "x", Brand: BrandVCS, Type: "Expressway-X"},
		{Hostname: "-bad", Brand: BrandVCS, Type: TypeC},
		{Hostname: "x", Brand: BrandExpressway, Type: TypeC, SmartLicensingEnabled: false},
	} {
		if err := SaveSystemConfig(root, bad); !errors.Is(err, ErrBadValue) {
			t.Errorf("SaveSystemConfig(%+v) err = %v, want ErrBadValue", bad, err)
		}
	}
	if got, _ := LoadSystemConfig(root); got != good {
		t.Errorf("a refused save changed the file: %+v", got)
	}
}

func TestSystemConfigFQDN(t *testing.T) {
	for _, tc := range []struct {
		c    SystemConfig
		want string
	}{
		{SystemConfig{Hostname: "expe01"}, "expe01"},
		{SystemConfig{Hostname: "expe01", Domain: "example.com"}, "expe01.example.com"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.c.FQDN(); got != tc.want {
				t.Errorf("FQDN = %q, want %q", got, tc.want)
			}
		})
	}
}
