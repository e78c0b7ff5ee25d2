package upgrade

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"vxway/bundle"
)

// DownloadDir is where a bundle fetched by URL waits while it is checked,
// below the root (tmpfs, so a reboot removes it).
const DownloadDir = "tmp"

// maxDownload bounds what a download may take: a bundle's limit plus its
// header.
const maxDownload = bundle.MaxSize + bundle.MaxManifest + 1024

// Download fetches an http:// or https:// URL into a temporary file under
// root/tmp and returns its path; the caller removes it. A body longer
// than any bundle is cut off and refused.
func Download(ctx context.Context, root, rawURL string, timeout time.Duration) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("URL %q: give an http:// or https:// URL of a .vxu bundle", rawURL)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", rawURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading the bundle: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading the bundle: the server answered %q", resp.Status)
	}
	if resp.ContentLength > maxDownload {
		return "", fmt.Errorf("%w: the server announces %d bytes, a bundle has at most %d", bundle.ErrOversized, resp.ContentLength, bundle.MaxSize)
	}
	dir := filepath.Join(root, DownloadDir)
	f, err := os.CreateTemp(dir, "upgrade-*.vxu")
	if err != nil {
		return "", fmt.Errorf("storing the bundle: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxDownload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("downloading the bundle: %w", err)
	}
	if n > maxDownload {
		os.Remove(f.Name())
		return "", fmt.Errorf("%w: the download went past %d bytes", bundle.ErrOversized, maxDownload)
	}
	return f.Name(), nil
}

// InstallURL downloads the bundle at rawURL (see Download), installs it
// like Install and removes the download. It returns the manifest and the
// slot written ("A" or "B").
func (d *Device) InstallURL(ctx context.Context, rawURL string, o Options) (*bundle.Manifest, string, error) {
	d.logf("upgrade: downloading %q", rawURL)
	path, err := Download(ctx, d.Root, rawURL, DownloadTimeout)
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(path)
	m, err := d.Install(ctx, path, o)
	if err != nil {
		return nil, "", err
	}
	st, err := LoadState(d.Root)
	if err != nil || st.Last == nil {
		return m, "", err
	}
	return m, st.Last.Slot, nil
}
