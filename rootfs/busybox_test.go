package rootfs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// cacheDir is the shared busybox cache of the tests (building it takes a
// minute); VXWAY_CACHE overrides it.
func cacheDir(t *testing.T) string {
	if d := os.Getenv("VXWAY_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("no user cache dir: %v", err)
	}
	return filepath.Join(d, "vxway")
}

func TestBusyboxRunsCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the busybox")
	}
	ctx := context.Background()
	p, _, err := Busybox(ctx, "..", cacheDir(t), CoreCommands())
	if err != nil {
		t.Fatal(err)
	}
	again, cached, err := Busybox(ctx, "..", cacheDir(t), CoreCommands())
	if err != nil || !cached || again != p {
		t.Errorf("second Busybox = %s, cached %v, %v; want the cached %s", again, cached, err, p)
	}
	// The busybox dispatches on argv[0]: run echo through a link.
	dir := t.TempDir()
	if err := os.Symlink(p, filepath.Join(dir, "echo")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "echo"), "hello", "vxway").Output()
	if err != nil {
		t.Fatalf("running busybox echo: %v", err)
	}
	if !bytes.Equal(out, []byte("hello vxway\n")) {
		t.Errorf("busybox echo printed %q", out)
	}
}

// TestBusyboxDepsListed keeps busybox_deps.go in step with CoreCommands.
func TestBusyboxDepsListed(t *testing.T) {
	b, err := os.ReadFile("busybox_deps.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range CoreCommands() {
		if !bytes.Contains(b, []byte(`_ "`+c+`"`)) {
			t.Errorf("busybox_deps.go does not import %s", c)
		}
	}
}
