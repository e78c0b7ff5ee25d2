package agent

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// device is the identity the manager knows, or an error when there is
// no key yet.
func (a *Agent) deviceLocked() Device {
	d := Device{Key: a.key, UDI: a.udiLocked()}
	if r := a.st.Registration; r != nil {
		d.InstanceID = r.InstanceID
		d.CertPEM = r.CertPEM
		d.Skew = r.Skew
	}
	return d
}

// udiLocked is the device's UDI: the platform's serial when known, else
// one derived from the identity key.
func (a *Agent) udiLocked() string {
	sn := platformSerial(a.root)
	if sn == "" && a.key != nil {
		pub, _ := a.key.PublicKey.Bytes()
		sum := sha256.Sum256(pub)
		sn = strings.ToUpper(fmt.Sprintf("%x", sum[:4]))
	}
	return fmt.Sprintf("UDI_PID:Expressway; UDI_SN:%s; UDI_VID:1.0;", sn)
}

// shared reports the hostname and IP to send, both empty with the
// privacy flag on.
func (a *Agent) sharedLocked() (string, string) {
	if a.cfg.HideHostname {
		return "", ""
	}
	return a.host(), a.ip()
}

// systemHostname reads the hostname from the platform's system.json,
// falling back to the kernel's.
func systemHostname(root string) string {
	b, err := os.ReadFile(filepath.Join(root, systemFile))
	if err == nil {
		var s struct {
			Hostname string `json:"hostname"`
			Domain   string `json:"domain"`
		}
		if json.Unmarshal(b, &s) == nil && s.Hostname != "" {
			if s.Domain != "" {
				return s.Hostname + "." + s.Domain
			}
			return s.Hostname
		}
	}
	h, _ := os.Hostname()
	return h
}

// platformSerial reads the UDI serial from /persist/identity.json.
func platformSerial(root string) string {
	b, err := os.ReadFile(filepath.Join(root, identityFil))
	if err != nil {
		return ""
	}
	var id map[string]any
	if json.Unmarshal(b, &id) != nil {
		return ""
	}
	for _, k := range []string{"serial", "Serial", "udi_serial", "sn"} {
		if s, ok := id[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// firstIPv4 reports the first non-loopback IPv4 address of the device.
func firstIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
