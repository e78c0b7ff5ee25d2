package agent

import (
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"strings"

	"vxway/platform"
	"vxway/reservation"
)

// The device identity: the UDI the manager knows the device by, and the
// hostname and address it may share. The files behind them are the
// platform's (persist/identity.json, data/config/system.json): the agent
// reads them through package platform only.

// deviceLocked is the identity the manager knows the device by.
func (a *Agent) deviceLocked() Device {
	d := Device{Key: a.key, UDI: a.udiLocked(), Skew: a.bestTimeLocked().Sub(a.clk.Now())}
	if r := a.st.Registration; r != nil {
		d.InstanceID = r.InstanceID
		d.CertPEM = r.CertPEM
	}
	return d
}

// udiLocked is the device's UDI for its current brand: the platform's
// identity when persist holds one, else a serial derived from the
// identity key.
func (a *Agent) udiLocked() string {
	id, err := platform.StoredIdentity(a.root)
	if err != nil {
		id = platform.Identity{}
		if a.key != nil {
			pub, _ := a.key.PublicKey.Bytes()
			sum := sha256.Sum256(pub)
			id.Serial = strings.ToUpper(fmt.Sprintf("%x", sum[:4]))
		}
	}
	return id.UDI(brand(a.root))
}

// deviceIdentity is the UDI (for the current brand) and host id of the
// platform identity, which reservation codes are bound to.
func (a *Agent) deviceIdentity() (reservation.UDI, string, error) {
	id, err := platform.LoadIdentity(a.root, a.clk)
	if err != nil {
		return reservation.UDI{}, "", fmt.Errorf("reading the device identity: %w", err)
	}
	udi, err := reservation.ParseUDI(id.UDI(brand(a.root)))
	if err != nil {
		return reservation.UDI{}, "", fmt.Errorf("device identity: %w", err)
	}
	return udi, id.HostID, nil
}

// brand is the device's brand (Service Select), Expressway when the
// system configuration cannot be read.
func brand(root string) platform.Brand {
	if sc, err := platform.LoadSystemConfig(root); err == nil && sc.Brand != "" {
		return sc.Brand
	}
	return platform.BrandExpressway
}

// sharedLocked reports the hostname and IP to send, both empty with the
// privacy flag on.
func (a *Agent) sharedLocked() (string, string) {
	if a.cfg.HideHostname {
		return "", ""
	}
	return a.host(), a.ip()
}

// systemHostname is the device's name in the platform's system
// configuration (hostname.domain), else the kernel's.
func systemHostname(root string) string {
	if sc, err := platform.LoadSystemConfig(root); err == nil && sc.Hostname != "" {
		return sc.FQDN()
	}
	h, _ := os.Hostname()
	return h
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
