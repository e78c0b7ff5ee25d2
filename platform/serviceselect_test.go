package platform

import (
	"errors"
	"testing"
	"time"
)

func TestServiceSelectRules(t *testing.T) {
	for _, c := range []struct {
		name      string
		image     string // brand of the image (first-boot default)
		steps     []string
		wantErr   error
		wantBrand Brand
		wantSL    bool
	}{
		{"vcs stays vcs", "VCS", []string{"VCS"}, nil, BrandVCS, false},
		{"vcs to expressway turns smart licensing on", "VCS", []string{"Expressway"}, nil, BrandExpressway, true},
		{"converted box cannot go back", "VCS", []string{"Expressway", "VCS"}, ErrSmartLicensingOn, BrandExpressway, true},
		{"born expressway cannot become vcs", "Expressway", []string{"VCS"}, ErrSmartLicensingOn, BrandExpressway, true},
		{"expressway to expressway is a no-op", "Expressway", []string{"Expressway"}, nil, BrandExpressway, true},
		{"unknown brand", "VCS", []string{"Tandberg"}, ErrBadValue, BrandVCS, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newTestRoot(t, c.image)
			clk := newTestClock()
			var err error
			for _, s := range c.steps {
				clk.Advance(time.Minute)
				err = SetBrand(root, Brand(s), clk)
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("last step err = %v, want %v", err, c.wantErr)
			}
			cfg, lerr := LoadSystemConfig(root)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if cfg.Brand != c.wantBrand || cfg.SmartLicensingEnabled != c.wantSL {
				t.Errorf("after %v: brand %s smart licensing %v, want %s %v", c.steps, cfg.Brand, cfg.SmartLicensingEnabled, c.wantBrand, c.wantSL)
			}
			if sl, _ := SmartLicensingEnabled(root); sl != c.wantSL {
				t.Errorf("SmartLicensingEnabled = %v", sl)
			}
			if c.image == "VCS" && c.wantSL && !cfg.SmartLicensingEnabledAt.Equal(testStart.Add(time.Minute)) {
				t.Errorf("enabled at %v, want the conversion time %v", cfg.SmartLicensingEnabledAt, testStart.Add(time.Minute))
			}
		})
	}
}

func TestServiceSelectFactoryResetAndType(t *testing.T) {
	root := newTestRoot(t, "VCS")
	if err := SetBrand(root, BrandExpressway, nil); err != nil {
		t.Fatal(err)
	}
	if err := SetType(root, TypeE); err != nil {
		t.Fatal(err)
	}
	if err := SetType(root, "Expressway-X"); !errors.Is(err, ErrBadValue) {
		t.Errorf("bad type err = %v", err)
	}
	if err := ResetServiceSelect(root); err != nil {
		t.Fatal(err)
	}
	cfg, _ := LoadSystemConfig(root)
	if cfg.Brand != BrandVCS || cfg.Type != TypeC || cfg.SmartLicensingEnabled || !cfg.SmartLicensingEnabledAt.IsZero() || cfg.Hostname != "expe01" {
		t.Errorf("after reset: %+v", cfg)
	}
}
