package sipsvc

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"vxway/sipclient"
)

// Status is what xstatus SIP shows.
func (s *Service) Status() sipclient.Status {
	adv, advTLS, advSrc := s.advertised()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.t()
	refused := make(map[string]int, len(s.refused))
	for k, v := range s.refused {
		refused[k] = v
	}
	return sipclient.Status{
		Domain: s.cfg.Domain, Authentication: !s.cfg.AuthenticationOff, Neighbor: s.cfg.Neighbor,
		Advertise: adv, AdvertiseTLS: advTLS, AdvertiseSource: advSrc,
		Room: t.room, Desktop: t.desktop, Encrypted: t.encRegs,
		Calls: t.calls, NeighborCalls: t.rms, EncryptedCalls: t.encCalls,
		Refused: refused, Licensing: s.licErr, ResidentKiB: residentKiB(),
	}
}

// residentKiB is this process's resident memory from /proc/self/status,
// or 0 where it cannot be read.
func residentKiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// Registrations lists the live registrations.
func (s *Service) Registrations() []sipclient.Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []sipclient.Registration{}
	for _, b := range s.bindings {
		for _, c := range b.contacts {
			out = append(out, sipclient.Registration{
				AOR: b.aor, Contact: c.uri.String(), Source: c.source, Transport: c.transport,
				Type: c.typ, UserAgent: c.userAgent, Expires: c.expires,
			})
		}
	}
	return out
}

// ServeAPI serves the local API (status, registrations, reload) on l.
func (s *Service) ServeAPI(l net.Listener) error {
	mux := http.NewServeMux()
	send := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { send(w, s.Status()) })
	mux.HandleFunc("GET /v1/registrations", func(w http.ResponseWriter, r *http.Request) { send(w, s.Registrations()) })
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Reload(); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		send(w, struct{}{})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(l)
}
