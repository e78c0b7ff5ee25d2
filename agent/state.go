package agent

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"vxway/agentclient"
	"vxway/atomicfile"
	"vxway/reservation"
)

// StateDir holds the agent's configuration, state and key, below the
// device root; only the agent reads or writes in it (the factory reset
// keeps or wipes it whole).
const StateDir = "data/licensing"

// AnchorDir holds the evaluation anchor on persist, below the device root;
// only the agent reads or writes in it.
const AnchorDir = "persist/licensing"

// Paths below the device root (docs/device-layout.md).
const (
	stateFile  = StateDir + "/state.json"
	configFile = StateDir + "/config.json"
	keyFile    = StateDir + "/device.key"
	anchorFile = AnchorDir + "/anchor.json"
)

// stateVersion is the version of state.json this code writes.
const stateVersion = 1

// State is the agent's licensing state, /data/licensing/state.json.
type State struct {
	Version int  `json:"version"`
	Enabled bool `json:"enabled"`
	// RequestSeq is the counter of the last request the device key
	// signed (licproto.Request.Seq); the manager refuses a counter it has
	// seen, so it only grows while the key lives.
	RequestSeq int64 `json:"request_seq,omitempty"`
	// Registration is set while the device is registered.
	Registration *Registration `json:"registration,omitempty"`
	// Pending is a registration that could not reach the manager and is
	// retried every 15 minutes. It holds the token, which never leaves
	// this file.
	Pending *Pending `json:"pending,omitempty"`
	// Failed is the manager's reason for refusing the last registration
	// (Unregistered: Registration Failed).
	Failed string `json:"failed,omitempty"`
	// RegistrationExpired is set when the identity certificate ran out
	// without renewal (Unregistered: Registration Expired).
	RegistrationExpired bool `json:"registration_expired,omitempty"`
	// Usage is the licenses in use per type, as call control reported.
	Usage map[string]int `json:"usage,omitempty"`
	// Warning is the last deregistration warning shown to the user.
	Warning string `json:"warning,omitempty"`
	// Reservation is license reservation
	// (docs/licensing.md#license-reservation): whether it is on and its
	// requests and codes; nil until it is first turned on.
	Reservation *ReservationState `json:"reservation,omitempty"`
	// Serial is the UDI serial of the device this state belongs to. A
	// state found on another device (restored from its backup, or a
	// cloned disk) keeps its settings but not the registration or the
	// reservation, which stay with the device that made them.
	Serial string `json:"serial,omitempty"`
}

// ReservationState is reservation mode and the reservation's codes.
type ReservationState struct {
	Enabled bool              `json:"enabled"`
	Codes   reservation.State `json:"codes"`
	// Judged is when the installed reservation was last judged and in
	// which boot: an agent that restarts within the same boot judges at
	// that time again, so hard enforcement happens only when the device
	// restarts.
	Judged *Judgement `json:"judged,omitempty"`
}

// Judgement is the time a reservation was judged and the kernel's boot
// id (platform.BootID) of the boot it was judged in.
type Judgement struct {
	BootID string    `json:"boot_id"`
	At     time.Time `json:"at"`
}

// Registration is the registered identity and its renewals.
type Registration struct {
	InstanceID       string `json:"instance_id"`
	SmartAccount     string `json:"smart_account"`
	VirtualAccount   string `json:"virtual_account"`
	ExportControlled bool   `json:"export_controlled"`
	CertPEM          []byte `json:"cert_pem"`
	// CertNotAfter is in manager time.
	CertNotAfter time.Time `json:"cert_not_after"`
	// RegisteredAt and RenewedAt are local times of the last register and
	// registration renewal.
	RegisteredAt time.Time `json:"registered_at"`
	RenewedAt    time.Time `json:"renewed_at"`
	// SentHostname is the hostname the manager last received (empty when
	// withheld); a different one is pushed by renewing the registration.
	SentHostname string `json:"sent_hostname,omitempty"`
	// Skew is manager time minus local time, measured at the last contact.
	Skew time.Duration `json:"skew"`
	// Auth is the last successful authorization; nil while Waiting.
	Auth *Authorization `json:"auth,omitempty"`
	// AuthFailure and RenewFailure are set while the last automatic or
	// manual attempt failed.
	AuthFailure  *Failure `json:"auth_failure,omitempty"`
	RenewFailure *Failure `json:"renew_failure,omitempty"`
	// Authorized is, per license type, the count the manager last
	// answered Authorized for: a connected device's installed count in
	// a cluster (docs/cluster.md). An out-of-compliance answer leaves it.
	Authorized map[string]int `json:"authorized,omitempty"`
}

// Authorization is one successful authorization answer.
type Authorization struct {
	// At is manager time, AtLocal the local time of the answer.
	At      time.Time         `json:"at"`
	AtLocal time.Time         `json:"at_local"`
	Results map[string]string `json:"results"`
	// Reported is the usage the answer covers.
	Reported map[string]int `json:"reported"`
}

// Failure is a failed contact: its reason and when it began.
type Failure struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Pending is a registration waiting for the manager.
type Pending struct {
	Token      string    `json:"token"`
	Reregister bool      `json:"reregister,omitempty"`
	Since      time.Time `json:"since"`
	Reason     string    `json:"reason"`
}

// Anchor is the evaluation anchor on persist: when Smart Licensing was
// first enabled and the latest time the device has seen since. It survives
// factory reset and deletion of /data/licensing.
type Anchor struct {
	Start  time.Time `json:"start"`
	Latest time.Time `json:"latest"`
}

// errCorrupt marks a state file that does not parse.
var errCorrupt = errors.New("corrupt licensing state")

// loadState reads root's state file; a missing file is a fresh state.
func loadState(root string) (*State, error) {
	p := filepath.Join(root, stateFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &State{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return parseState(b, p)
}

// parseState reads the bytes of a state file named p.
func parseState(b []byte, p string) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: parsing %s: %v", errCorrupt, p, err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("%w: %s has version %d, this agent reads %d", errCorrupt, p, s.Version, stateVersion)
	}
	return &s, nil
}

// marshalState is the bytes of s as the state file holds them.
func marshalState(s *State) ([]byte, error) {
	s.Version = stateVersion
	return json.MarshalIndent(s, "", "  ")
}

func writeFile(root, rel string, b []byte) error {
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	return atomicfile.WriteFile(p, b, 0o600)
}

// loadConfig reads the configuration; a missing file is the default.
func loadConfig(root string) (agentclient.Config, error) {
	p := filepath.Join(root, configFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return agentclient.DefaultConfig(), nil
	}
	if err != nil {
		return agentclient.Config{}, fmt.Errorf("reading %s: %w", p, err)
	}
	return parseConfig(b, p)
}

// parseConfig reads the bytes of a configuration file named p.
func parseConfig(b []byte, p string) (agentclient.Config, error) {
	c := agentclient.DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return agentclient.Config{}, fmt.Errorf("%w: parsing %s: %v", errCorrupt, p, err)
	}
	if err := c.Validate(); err != nil {
		return agentclient.Config{}, fmt.Errorf("%w: checking %s: %v", errCorrupt, p, err)
	}
	return c, nil
}

func saveConfig(root string, c agentclient.Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding licensing configuration: %w", err)
	}
	return writeFile(root, configFile, b)
}

// loadAnchor reads the evaluation anchor; ok is false when there is none.
func loadAnchor(root string) (a Anchor, ok bool, err error) {
	p := filepath.Join(root, anchorFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Anchor{}, false, nil
	}
	if err != nil {
		return Anchor{}, false, fmt.Errorf("reading %s: %w", p, err)
	}
	if err := json.Unmarshal(b, &a); err != nil || a.Start.IsZero() {
		return Anchor{}, false, fmt.Errorf("%w: parsing %s: %v", errCorrupt, p, err)
	}
	return a, true, nil
}

func saveAnchor(root string, a Anchor) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding evaluation anchor: %w", err)
	}
	return writeFile(root, anchorFile, b)
}

// loadOrMakeKey reads the device identity key, making and storing a new
// ECDSA P-256 key when there is none.
func loadOrMakeKey(root string) (*ecdsa.PrivateKey, error) {
	p := filepath.Join(root, keyFile)
	b, err := os.ReadFile(p)
	if err == nil {
		return parseKey(b, p)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making the device key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding the device key: %w", err)
	}
	if err := writeFile(root, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	return k, nil
}

// parseKey reads the bytes of a device key file named p.
func parseKey(b []byte, p string) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM block", errCorrupt, p)
	}
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing %s: %v", errCorrupt, p, err)
	}
	return k, nil
}
