package upgrade

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vxway/bundle"
	"vxway/platform"
	"vxway/sysclient"
)

// DownloadDir is where a bundle fetched by URL waits while it is checked,
// below the root (tmpfs, so a reboot removes it).
const DownloadDir = "tmp"

// maxDownload bounds what a download may take: a bundle's limit plus its
// header.
const maxDownload = bundle.MaxSize + bundle.MaxManifest + 1024

// ErrNoDownloadTrust reports an https:// URL on a device whose image
// trusts no CA for upgrade downloads.
var ErrNoDownloadTrust = errors.New("this device trusts no CA for HTTPS upgrade downloads")

// ErrUntrustedServer reports an HTTPS server whose certificate does not
// verify against the download trust store (or does not name the host).
var ErrUntrustedServer = errors.New("the download server's certificate is not trusted")

// Download fetches an http:// or https:// URL into a temporary file under
// root/tmp and returns its path; the caller removes it. A body longer
// than any bundle is cut off and refused. An https:// server must have a
// certificate for the URL's host that chains to one of the CAs in
// root/etc/vxway/upgrade-trust (LoadDownloadTrust); the check is never
// skipped.
func Download(ctx context.Context, root, rawURL string, timeout time.Duration) (string, error) {
	u, err := sysclient.CheckUpgradeURL(rawURL)
	if err != nil {
		return "", err
	}
	client := &http.Client{}
	if u.Scheme == "https" {
		roots, err := LoadDownloadTrust(root)
		if err != nil {
			return "", err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		client.Transport = tr
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", sysclient.RedactURL(rawURL), err)
	}
	resp, err := client.Do(req)
	if err != nil {
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		var host x509.HostnameError
		switch {
		case errors.As(err, &unknown):
			return "", fmt.Errorf("%w: the server's certificate is not signed by a CA this device trusts for upgrade downloads (%s, from appliance.toml [upgrade] trusted_ca_files): %v", ErrUntrustedServer, "/"+platform.UpgradeTrustDir, err)
		case errors.As(err, &invalid), errors.As(err, &host):
			return "", fmt.Errorf("%w: %v", ErrUntrustedServer, err)
		}
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

// LoadDownloadTrust reads the CA certificates of root/etc/vxway/upgrade-trust
// (every .pem file). None there is ErrNoDownloadTrust, saying how to add
// one; a file that is not PEM certificates is an error naming it.
func LoadDownloadTrust(root string) (*x509.CertPool, error) {
	dir := filepath.Join(root, platform.UpgradeTrustDir)
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the upgrade download trust store %s: %w", dir, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", p)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: list the download server's CA certificate in appliance.toml [upgrade] trusted_ca_files and install that build, or give the bundle's http:// URL (its signature is checked either way)", ErrNoDownloadTrust)
	}
	return pool, nil
}

// InstallURL downloads the bundle at rawURL (see Download), installs it
// like Install and removes the download. It returns the manifest and the
// slot written ("A" or "B").
func (d *Device) InstallURL(ctx context.Context, rawURL string, o Options) (*bundle.Manifest, string, error) {
	d.logf("upgrade: downloading %q", sysclient.RedactURL(rawURL))
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
