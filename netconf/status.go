package netconf

import (
	"errors"
	"path/filepath"
	"time"

	"vxway/atomicfile"
)

// StatusPath is where the running network service reports what it applied,
// relative to the device root. It lives on the RAM-backed /run: it describes
// this boot only.
const StatusPath = "run/vxway/network.json"

// State values of Status.
const (
	StateUp          = "Up"
	StateWaitingDHCP = "WaitingForDHCP"
	StateError       = "Error"
)

// Status is what the network service applied, for `xstatus Network` and for
// xconfiguration to confirm a change took effect.
type Status struct {
	// ConfigHash is Hash of the configuration applied.
	ConfigHash   string   `json:"config_hash"`
	State        string   `json:"state"`
	Error        string   `json:"error,omitempty"`
	Interface    string   `json:"interface"`
	DHCP         bool     `json:"dhcp"`
	Address      string   `json:"address,omitempty"` // CIDR form
	Gateway      string   `json:"gateway,omitempty"`
	DNSServers   []string `json:"dns_servers"`
	DNSFromDHCP  bool     `json:"dns_from_dhcp,omitempty"`
	SearchDomain string   `json:"search_domain,omitempty"`
	NTPServers   []string `json:"ntp_servers"`
	// NTPSyncedFrom is the NTP server the clock was last checked against,
	// at NTPSynced, finding it off by NTPOffset (before any correction).
	NTPSyncedFrom string    `json:"ntp_synced_from,omitempty"`
	NTPSynced     time.Time `json:"ntp_synced,omitzero"`
	NTPOffset     string    `json:"ntp_offset,omitempty"`
	DHCPServer    string    `json:"dhcp_server,omitempty"`
	LeaseExpires  time.Time `json:"lease_expires,omitzero"`
	Updated       time.Time `json:"updated"`
}

// ErrNoStatus marks a device whose network service has not reported yet
// (not started, or not running on this root).
var ErrNoStatus = errors.New("the network service has not reported a status")

// ReadStatus reads the network service's report under root.
func ReadStatus(root string) (Status, error) {
	var s Status
	found, err := atomicfile.ReadJSON(filepath.Join(root, StatusPath), &s)
	if err != nil {
		return Status{}, err
	}
	if !found {
		return Status{}, ErrNoStatus
	}
	return s, nil
}

func writeStatus(root string, s Status) error {
	return atomicfile.WriteJSON(filepath.Join(root, StatusPath), s, 0o644)
}
