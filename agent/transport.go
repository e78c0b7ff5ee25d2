package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"vxway/agentclient"
	"vxway/clock"
	"vxway/licproto"
	"vxway/platform"
)

// errProxyRefused marks a proxy that refused to open the tunnel.
var errProxyRefused = errors.New("proxy refused the connection")

// httpsManager is the Manager over HTTPS with licproto messages.
type httpsManager struct {
	client *licproto.Client
	clk    clock.Clock
	// learn gets the manager's time of every verified answer, refusals
	// included.
	learn func(time.Time)
}

// newHTTPSManager returns the Manager reached with cfg from the device at
// root: the URL (image.json direct_url, or the On-Prem URL), the proxy,
// and a TLS configuration that trusts only /etc/vxway/trust/*.pem and
// judges certificates at tlsTime (the device's best estimate of the
// manager's time, not its clock, which may be off by months). learn gets
// the manager's time of every verified answer.
func newHTTPSManager(root string, cfg agentclient.Config, timeout time.Duration, clk clock.Clock, tlsTime func() time.Time, learn func(time.Time)) (Manager, error) {
	roots, err := loadTrust(root)
	if err != nil {
		return nil, err
	}
	target, err := transportURL(root, cfg)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, Time: tlsTime},
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       30 * time.Second,
		MaxIdleConns:          1,
	}
	if cfg.Mode == agentclient.Proxy {
		pu, err := proxyURL(cfg)
		if err != nil {
			return nil, err
		}
		tr.Proxy = http.ProxyURL(pu)
		tr.OnProxyConnectResponse = func(_ context.Context, _ *url.URL, connect *http.Request, res *http.Response) error {
			switch res.StatusCode {
			case http.StatusOK:
				return nil
			case http.StatusUnauthorized, http.StatusProxyAuthRequired:
				return fmt.Errorf("%w: the proxy answered %s; check the proxy username and password", errProxyRefused, res.Status)
			}
			return fmt.Errorf("%w: the proxy answered %s to CONNECT %s", errProxyRefused, res.Status, connect.Host)
		}
	}
	return &httpsManager{
		clk:   clk,
		learn: learn,
		client: &licproto.Client{
			HTTP:     &http.Client{Transport: tr, Timeout: timeout},
			URL:      target,
			Verifier: licproto.NewVerifier(roots),
			Clock:    clk,
		},
	}, nil
}

// loadTrust reads every PEM certificate in root/etc/vxway/trust.
func loadTrust(root string) (*x509.CertPool, error) {
	dir := filepath.Join(root, platform.TrustDir)
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	pool := x509.NewCertPool()
	n := 0
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".pem") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing %s: %w", p, err)
			}
			pool.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate; the image must be built with [licensing] trusted_ca_files", agentclient.ErrNoTrust, dir)
	}
	return pool, nil
}

// directURL is the Direct URL of the image facts (platform's image.json).
func directURL(root string) (string, error) {
	lic, err := platform.LoadImageLicensing(root)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(lic.DirectURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%w: %s: licensing.direct_url %q is not an https URL", agentclient.ErrTransport, filepath.Join(root, platform.ImageInfoPath), lic.DirectURL)
	}
	return lic.DirectURL, nil
}

func transportURL(root string, cfg agentclient.Config) (string, error) {
	if cfg.Mode == agentclient.OnPrem {
		if cfg.URL == "" {
			return "", fmt.Errorf("%w: the On-Prem URL is not set; xconfiguration License Smart Transport URL: \"https://<manager>/SmartTransport\"", agentclient.ErrTransport)
		}
		return cfg.URL, nil
	}
	return directURL(root)
}

func proxyURL(cfg agentclient.Config) (*url.URL, error) {
	if cfg.ProxyAddress == "" || cfg.ProxyPort == 0 {
		return nil, fmt.Errorf("%w: the proxy address and port are not set; xconfiguration License Smart Transport Proxy Address: <host> and Port: <n>", agentclient.ErrTransport)
	}
	u := &url.URL{Scheme: "http", Host: net.JoinHostPort(cfg.ProxyAddress, strconv.Itoa(cfg.ProxyPort))}
	if cfg.ProxyUsername != "" || cfg.ProxyPassword != "" {
		u.User = url.UserPassword(cfg.ProxyUsername, cfg.ProxyPassword)
	}
	return u, nil
}

// reason turns a transport error into the reason shown to the user,
// naming an untrusted certificate "Unknown CA" and a timeout "operation
// timed out" as the product does. Proxy credentials never appear: the
// proxy URL is not part of any message.
func reason(err error) error {
	var ua x509.UnknownAuthorityError
	var cv *tls.CertificateVerificationError
	var ne net.Error
	var pe *licproto.Error
	switch {
	case errors.As(err, &pe):
		return &agentclient.Rejected{Reason: pe.Error(), Err: pe}
	case errors.As(err, &ua), errors.As(err, &cv) && isUnknownAuthority(cv.Err):
		//lint:ignore ST1005 the product's message starts with "Unknown CA", which users search for
		return fmt.Errorf("Unknown CA: the server's certificate is not signed by a trusted manager CA (a TLS-intercepting proxy?): %w", err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("operation timed out: %w", err)
	}
	return err
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

// rejectedCodes are refusals a retry cannot fix.
func refusal(err error) error {
	err = reason(err)
	var r *agentclient.Rejected
	if !errors.As(err, &r) {
		return err
	}
	r.Gone = errors.Is(r.Err, licproto.ErrNotRegistered)
	for _, c := range []error{licproto.ErrUnknownToken, licproto.ErrTokenExpired, licproto.ErrTokenUsedUp, licproto.ErrTokenRevoked,
		licproto.ErrBadRequest, licproto.ErrNotRegistered, licproto.ErrAlreadyRegistered, licproto.ErrTooLarge} {
		if errors.Is(r.Err, c) {
			return r
		}
	}
	return fmt.Errorf("manager refused the request: %w", r.Err)
}

func (m *httpsManager) do(ctx context.Context, d Device, skew time.Duration, t licproto.Type, payload, result any) (*licproto.Verified, error) {
	c := *m.client
	c.Skew, c.Seq = skew, d.Seq
	v, err := c.Do(ctx, t, d.UDI, d.Key, payload, result)
	if v != nil && m.learn != nil {
		m.learn(v.Time())
	}
	if err != nil {
		return v, refusal(err)
	}
	return v, nil
}

func (m *httpsManager) Register(ctx context.Context, d Device, req RegisterRequest) (RegisterAnswer, error) {
	pub, err := x509.MarshalPKIXPublicKey(&d.Key.PublicKey)
	if err != nil {
		return RegisterAnswer{}, fmt.Errorf("encoding the device public key: %w", err)
	}
	var res licproto.RegisterResult
	v, err := m.do(ctx, d, d.Skew, licproto.TypeRegister, licproto.RegisterPayload{
		Token: req.Token, PublicKey: pub, Hostname: req.Hostname, IP: req.IP, Reregister: req.Reregister,
	}, &res)
	if err != nil {
		return RegisterAnswer{}, err
	}
	cert, err := x509.ParseCertificate(res.Certificate)
	if err != nil {
		return RegisterAnswer{}, fmt.Errorf("parsing the identity certificate from the manager: %w", err)
	}
	return RegisterAnswer{
		InstanceID:       d.UDI,
		SmartAccount:     res.SmartAccount,
		VirtualAccount:   res.VirtualAccount,
		ExportControlled: res.ExportControlled,
		CertPEM:          pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.Certificate}),
		CertNotAfter:     cert.NotAfter,
		ManagerTime:      v.Time(),
	}, nil
}

func (m *httpsManager) RenewRegistration(ctx context.Context, d Device, hostname, ip string) (RenewAnswer, error) {
	var res licproto.RegisterResult
	v, err := m.do(ctx, d, d.Skew, licproto.TypeRenewRegistration, licproto.RenewRegistrationPayload{Hostname: hostname, IP: ip}, &res)
	if err != nil {
		return RenewAnswer{}, err
	}
	cert, err := x509.ParseCertificate(res.Certificate)
	if err != nil {
		return RenewAnswer{}, fmt.Errorf("parsing the identity certificate from the manager: %w", err)
	}
	return RenewAnswer{
		CertPEM:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.Certificate}),
		CertNotAfter: cert.NotAfter,
		ManagerTime:  v.Time(),
	}, nil
}

func (m *httpsManager) Authorize(ctx context.Context, d Device, usage map[string]int, _, _ string) (AuthAnswer, error) {
	p := licproto.AuthorizePayload{Usage: map[licproto.LicenseType]int{}}
	for t, n := range usage {
		p.Usage[licproto.LicenseType(t)] = n
	}
	var res licproto.AuthorizeResult
	v, err := m.do(ctx, d, d.Skew, licproto.TypeAuthorize, p, &res)
	if err != nil {
		return AuthAnswer{}, err
	}
	out := AuthAnswer{Results: map[string]string{}, ManagerTime: v.Time()}
	for _, l := range res.Licenses {
		switch l.State {
		case licproto.StateAuthorized:
			out.Results[string(l.Type)] = ResultAuthorized
		case licproto.StateOutOfCompliance:
			out.Results[string(l.Type)] = ResultOutOfCompliance
		default:
			out.Results[string(l.Type)] = ResultInvalidTag
		}
	}
	return out, nil
}

func (m *httpsManager) Deregister(ctx context.Context, d Device) error {
	_, err := m.do(ctx, d, d.Skew, licproto.TypeDeregister, licproto.DeregisterPayload{}, nil)
	return err
}
