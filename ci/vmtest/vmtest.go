// Package vmtest boots vxway images in QEMU for tests and drives the
// serial console, the way a user at the console would.
//
// A VM test builds (or reuses) an image, boots it, waits for console
// markers, logs in and runs commands:
//
//	func TestSomething(t *testing.T) {
//		img := vmtest.Image(t)                  // built once per test binary
//		vm := vmtest.Boot(t, img)               // private copy of the disk
//		vm.WaitReady(t)                         // "vxway: ready"
//		vm.Login(t, "root", "TANDBERG")
//		out := vm.Run(t, "ls /data")            // fails the test on exit != 0
//		vm.Logout(t)
//		vm.Login(t, "admin", "TANDBERG")
//		out = vm.XAPI(t, "xstatus Alarm")       // output up to OK
//		out, code := vm.SSH(t, "root", "TANDBERG", "ls /data")
//	}
//
// Images: Image builds the repository's appliance.toml; options give a
// variant (WithTrustedCA); each distinct variant is built once per test
// binary and shared. VMs: Boot options set the guest clock (RTCBase) and
// attach further disks (ExtraDisk), such as a provisioning seed. Reboot,
// PowerOff and Kill (a power cut) stop the machine; Start boots the same
// disk again.
//
// On a failed test the console transcript is printed. The tests skip when
// QEMU or OVMF are missing, unless CI is set (then they fail).
package vmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vxway/appconfig"
	"vxway/image"
)

// Default passwords of the sample appliance.toml.
const (
	DefaultRootPassword  = "TANDBERG"
	DefaultAdminPassword = "TANDBERG"
)

// ImageOption changes the build config of an image variant.
type ImageOption func(*appconfig.Config)

// WithTrustedCA adds a PEM CA certificate file to [licensing]
// trusted_ca_files.
func WithTrustedCA(pemFile string) ImageOption {
	return func(c *appconfig.Config) {
		abs, err := filepath.Abs(pemFile)
		if err != nil {
			abs = pemFile
		}
		c.Licensing.TrustedCAFiles = append(c.Licensing.TrustedCAFiles, abs)
	}
}

// builds memoizes images per variant for the life of the test binary.
type builds struct {
	mu   sync.Mutex
	dir  string
	imgs map[string]*built
}

type built struct {
	once sync.Once
	path string
	err  error
	log  string
}

var cache = &builds{imgs: map[string]*built{}}

// RequireVM skips the test when QEMU or OVMF are missing, or fails it when
// CI is set. Boot and Image call it.
func RequireVM(t testing.TB) {
	t.Helper()
	if err := image.RequireHost(image.PkgQEMU, image.PkgOVMF, image.PkgSystemdBoot, image.PkgE2fsprogs); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("VM tests need the host packages: %v", err)
		}
		t.Skipf("VM test skipped: %v", err)
	}
	if testing.Short() {
		t.Skip("VM test skipped in -short mode")
	}
}

// Image returns the path of an image built from the repository's
// appliance.toml with opts applied. The same variant is built once per
// test binary; do not write to the returned file (Boot copies it).
func Image(t testing.TB, opts ...ImageOption) string {
	t.Helper()
	RequireVM(t)
	mod, cfg := variantConfig(t, opts)
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("image variant config: %v", errs)
	}
	key, err := variantKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cache.mu.Lock()
	if cache.dir == "" {
		cache.dir, err = os.MkdirTemp("", "vxway-vmtest-")
		if err != nil {
			cache.mu.Unlock()
			t.Fatal(err)
		}
	}
	// Every variant signs its upgrade bundle with one development key,
	// which every variant trusts, made before any build can race for it.
	if err := devKey(cache.dir); err != nil {
		cache.mu.Unlock()
		t.Fatal(err)
	}
	b := cache.imgs[key]
	if b == nil {
		b = &built{}
		cache.imgs[key] = b
	}
	dir := cache.dir
	cache.mu.Unlock()

	b.once.Do(func() {
		var log strings.Builder
		out := filepath.Join(dir, key[:16]+".img")
		userCache, err := os.UserCacheDir()
		if err != nil {
			userCache = dir
		}
		start := time.Now()
		var sum *image.Summary
		sum, b.err = image.Build(context.Background(), image.Options{
			Config: cfg, Output: out, ModuleDir: mod,
			CacheDir: filepath.Join(userCache, "vxway"), Log: &log,
		})
		b.log = log.String()
		if b.err == nil {
			b.path = sum.Path
			b.log += fmt.Sprintf("built in %s\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if b.err != nil {
		t.Fatalf("building the image: %v\n%s", b.err, b.log)
	}
	return b.path
}

// variantKey hashes a config and the files it names.
func variantKey(c *appconfig.Config) (string, error) {
	js, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(js)
	for _, p := range append(append([]string(nil), c.Licensing.TrustedCAFiles...), c.Upgrade.TrustedCAFiles...) {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// variantConfig is the module's root and its appliance.toml with opts
// applied.
func variantConfig(t testing.TB, opts []ImageOption) (string, *appconfig.Config) {
	t.Helper()
	mod, err := image.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := appconfig.Load(filepath.Join(mod, "appliance.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(cfg)
	}
	return mod, cfg
}
