package rootfs

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/u-root/gobusybox/src/pkg/bb"
	"github.com/u-root/gobusybox/src/pkg/golang"
)

// busyboxTags are the build tags of the busybox. goshsmall gives the root
// shell (gosh) a plain line reader instead of its full-screen line editor,
// which asks the terminal for the cursor position and redraws the line at
// every key: on a serial console that swallowed typed input and made long
// lines slow. It also makes the binary about 2 MB smaller.
const busyboxTags = "goshsmall"

// Busybox returns the path of a gobusybox binary holding cmds, building it
// into cacheDir when no binary with the same inputs (Go version, u-root and
// gobusybox module versions, command list) is there yet. cached reports a
// cache hit.
func Busybox(ctx context.Context, moduleDir, cacheDir string, cmds []string) (path string, cached bool, err error) {
	key, err := busyboxKey(ctx, moduleDir, cmds)
	if err != nil {
		return "", false, err
	}
	path = filepath.Join(cacheDir, "busybox-"+key[:24])
	if _, err := os.Stat(path); err == nil {
		return path, true, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", false, fmt.Errorf("creating cache %s: %w", cacheDir, err)
	}
	gen, err := os.MkdirTemp(cacheDir, "bbsrc-")
	if err != nil {
		return "", false, fmt.Errorf("creating busybox source dir: %w", err)
	}
	defer os.RemoveAll(gen)
	env := golang.Default(golang.DisableCGO(), golang.WithGOOS("linux"), golang.WithGOARCH("amd64"), golang.WithWorkingDir(moduleDir), golang.WithBuildTag(busyboxTags))
	var logs bytes.Buffer
	err = bb.BuildBusybox(log.New(&logs, "", 0), &bb.Opts{
		Env:          env,
		CommandPaths: cmds,
		GenSrcDir:    filepath.Join(gen, "gopath"),
		GenerateOnly: true,
	})
	if err != nil {
		return "", false, fmt.Errorf("generating the u-root busybox source: %w\n%s", err, logs.String())
	}
	tmp := path + ".tmp"
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-buildvcs=false", "-tags="+busyboxTags, "-gcflags=all=-l", "-ldflags=-s -w -buildid=", "-o", tmp, ".")
	cmd.Dir = filepath.Join(gen, "gopath", "src", "bb.u-root.com", "bb")
	cmd.Env = append(deviceEnv(), "GO111MODULE=off", "GOPATH="+filepath.Join(gen, "gopath"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("building the u-root busybox: %w\n%s", err, bytes.TrimSpace(out))
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", false, fmt.Errorf("caching the busybox: %w", err)
	}
	return path, false, nil
}

// busyboxKey hashes everything the busybox binary depends on.
func busyboxKey(ctx context.Context, moduleDir string, cmds []string) (string, error) {
	cmd := exec.CommandContext(ctx, goTool(), "list", "-m", "-f", "{{.Path}} {{.Version}} {{.Sum}}",
		"github.com/u-root/u-root", "github.com/u-root/gobusybox/src")
	cmd.Dir = moduleDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	mods, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("listing the u-root module versions: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	ver := exec.CommandContext(ctx, goTool(), "env", "GOVERSION")
	gv, err := ver.Output()
	if err != nil {
		return "", fmt.Errorf("asking the go command its version: %w", err)
	}
	return hashStrings("busybox-v1", string(gv), string(mods), strings.Join(cmds, " "), "linux/amd64/v1", "tags="+busyboxTags), nil
}
