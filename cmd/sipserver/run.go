package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"vxway/agentclient"
	"vxway/platform"
	"vxway/sipclient"
	"vxway/sipsvc"
)

// run parses the command line (the standard flag package: the service
// starts at every boot) and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("sipserver", flag.ContinueOnError)
	f.SetOutput(stderr)
	root := f.String("root", "/", "device root `DIR`")
	sipAddr := f.String("sip", ":5060", "UDP and TCP `ADDRESS` for SIP")
	tlsAddr := f.String("sips", ":5061", "TLS `ADDRESS` for SIP (empty: no TLS)")
	cert := f.String("tls-cert", "", "server certificate `FILE` (PEM) for TLS")
	key := f.String("tls-key", "", "its key `FILE` (PEM)")
	advertise := f.String("advertise", "", "`HOST[:PORT]` SIP peers reach this service at, put in Record-Route and Via (TLS at PORT+1); the setting xconfiguration SIP Advertise Address overrides it (default: the local address facing each peer, the listening ports)")
	if err := f.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: sipserver takes options only", f.Arg(0))
	}
	if *advertise != "" {
		if _, err := sipclient.ParseAdvertise(*advertise); err != nil {
			return fmt.Errorf("--advertise: %w", err)
		}
	}
	// The SIP stack logs a few warnings to slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	agent := agentclient.NewClient(filepath.Join(*root, agentclient.SocketPath))
	svc, err := sipsvc.New(sipsvc.Options{Root: *root, Licensing: agent, Log: stderr, Advertise: *advertise})
	if err != nil {
		return err
	}
	udp, err := net.ListenPacket("udp", *sipAddr)
	if err != nil {
		return fmt.Errorf("listening on UDP %s: %w", *sipAddr, err)
	}
	growReadBuffer(udp)
	tcp, err := net.Listen("tcp", *sipAddr)
	if err != nil {
		return fmt.Errorf("listening on TCP %s: %w", *sipAddr, err)
	}
	var tl net.Listener
	if *tlsAddr != "" {
		l, err := net.Listen("tcp", *tlsAddr)
		if err != nil {
			return fmt.Errorf("listening on TLS %s: %w", *tlsAddr, err)
		}
		// Init makes the server certificate on first boot while the
		// services start: it is read at the first handshake.
		tl = sipsvc.TLSListenerFunc(l, certLoader(*cert, *key))
	}
	sock := filepath.Join(*root, sipclient.SocketPath)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(sock), err)
	}
	os.Remove(sock)
	api, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", sock, err)
	}
	defer api.Close()
	// Root and the admin shell (group vxconfig) may ask; nobody else.
	if err := os.Chown(sock, -1, platform.GIDConfig); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("giving %s to the admin shell: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o660); err != nil {
		return fmt.Errorf("opening %s to the admin shell: %w", sock, err)
	}
	go svc.ServeAPI(api)
	fmt.Fprintf(stderr, "sip: serving UDP and TCP %s, TLS %s, local API %s\n", udp.LocalAddr(), addrOf(tl), sock)
	return svc.Serve(ctx, udp, tcp, tl)
}

// certLoader reads the certificate and key at the first handshake and
// keeps them once read.
func certLoader(certFile, keyFile string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	var mu sync.Mutex
	var cert *tls.Certificate
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if cert != nil {
			return cert, nil
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the server certificate: %w", err)
		}
		cert = &c
		return cert, nil
	}
}

func addrOf(l net.Listener) string {
	if l == nil {
		return "off"
	}
	return l.Addr().String()
}
