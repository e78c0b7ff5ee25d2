package platform

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"vxway/clock"
)

// IdentityPath is where the device identity is kept, below the root. It is
// on persist, so a factory reset keeps it.
const IdentityPath = "persist/identity.json"

// UDIVersion is the version id (VID) of the device's UDI.
const UDIVersion = "1.0"

// Where an identity came from.
const (
	SourceSMBIOS = "smbios-uuid"
	SourceMAC    = "mac"
	SourceRandom = "random"
)

// Identity is the device's unique device identifier parts: the serial
// number (8 upper-case hex digits) and the host id (8 lower-case hex
// digits), derived once from the hardware and kept on persist.
type Identity struct {
	Serial  string    `json:"serial"`
	HostID  string    `json:"host_id"`
	Source  string    `json:"source"`
	Derived time.Time `json:"derived"`
}

// PID is the product id of the UDI for a brand.
func PID(b Brand) string {
	if b == BrandVCS {
		return "VCS"
	}
	return "Expressway"
}

// UDI renders the identity the way the license manager lists it:
// `UDI_PID:Expressway; UDI_SN:04515163; UDI_VID:1.0;`.
func (id Identity) UDI(b Brand) string {
	return fmt.Sprintf("UDI_PID:%s; UDI_SN:%s; UDI_VID:%s;", PID(b), id.Serial, UDIVersion)
}

func (id Identity) valid() bool {
	return len(id.Serial) == 8 && isHex(id.Serial) && strings.ToUpper(id.Serial) == id.Serial &&
		len(id.HostID) == 8 && isHex(id.HostID)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Errors of StoredIdentity.
var (
	// ErrNoIdentity marks a persist partition without a device identity
	// yet.
	ErrNoIdentity = errors.New("no device identity stored")
	// ErrBadIdentity marks a stored identity that does not parse or whose
	// serial or host id is not 8 hex digits.
	ErrBadIdentity = errors.New("damaged device identity")
)

// StoredIdentity returns the device identity kept on persist, deriving
// none: ErrNoIdentity when there is none yet, ErrBadIdentity when the file
// is damaged. Programs that must not write persist (the licensing agent)
// read the identity with it; LoadIdentity is for the one that makes it.
func StoredIdentity(root string) (Identity, error) {
	p := filepath.Join(root, IdentityPath)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Identity{}, fmt.Errorf("%w: %s does not exist", ErrNoIdentity, p)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("reading %s: %w", p, err)
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return Identity{}, fmt.Errorf("%w: parsing %s: %v", ErrBadIdentity, p, err)
	}
	if !id.valid() {
		return Identity{}, fmt.Errorf("%w: %s: serial %q and host id %q must be 8 hex digits each", ErrBadIdentity, p, id.Serial, id.HostID)
	}
	return id, nil
}

// LoadIdentity returns the device identity: the one on persist when there
// is one, else a new one derived from the hardware and stored there. The
// hardware is the SMBIOS system UUID (sys/class/dmi/id/product_uuid), else
// the first non-loopback network interface's MAC address (by interface
// name); a machine with neither gets a random identity, kept all the same.
func LoadIdentity(root string, c clock.Clock) (Identity, error) {
	if c == nil {
		c = clock.Real{}
	}
	id, err := StoredIdentity(root)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, ErrNoIdentity), errors.Is(err, ErrBadIdentity):
		// A damaged file is derived again: the hardware gives the same
		// answer, so the serial does not change.
	default:
		return Identity{}, err
	}
	p := filepath.Join(root, IdentityPath)
	id, err = deriveIdentity(root)
	if err != nil {
		return Identity{}, err
	}
	id.Derived = c.Now().UTC()
	out, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return Identity{}, fmt.Errorf("encoding identity: %w", err)
	}
	if err := writeFile(p, append(out, '\n'), 0o644); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func deriveIdentity(root string) (Identity, error) {
	source, material := hardwareID(root)
	if source == "" {
		var r [16]byte
		if _, err := rand.Read(r[:]); err != nil {
			return Identity{}, fmt.Errorf("reading random identity: %w", err)
		}
		source, material = SourceRandom, hex.EncodeToString(r[:])
	}
	serial := sha256.Sum256([]byte("vxway serial\x00" + material))
	host := sha256.Sum256([]byte("vxway host id\x00" + material))
	return Identity{
		Serial: strings.ToUpper(hex.EncodeToString(serial[:4])),
		HostID: hex.EncodeToString(host[:4]),
		Source: source,
	}, nil
}

// hardwareID reports the first usable hardware identifier and its source.
func hardwareID(root string) (source, value string) {
	if b, err := os.ReadFile(filepath.Join(root, "sys/class/dmi/id/product_uuid")); err == nil {
		u := strings.ToLower(strings.TrimSpace(string(b)))
		if usableUUID(u) {
			return SourceSMBIOS, u
		}
	}
	netDir := filepath.Join(root, "sys/class/net")
	ents, err := os.ReadDir(netDir)
	if err != nil {
		return "", ""
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Name() != "lo" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(netDir, n, "address"))
		if err != nil {
			continue
		}
		mac := strings.ToLower(strings.TrimSpace(string(b)))
		if usableMAC(mac) {
			return SourceMAC, mac
		}
	}
	return "", ""
}

// usableUUID refuses the placeholder UUIDs some firmware reports.
func usableUUID(u string) bool {
	digits := strings.ReplaceAll(u, "-", "")
	if len(digits) != 32 || !isHex(digits) {
		return false
	}
	return strings.Trim(digits, "0") != "" && strings.Trim(digits, "f") != ""
}

func usableMAC(m string) bool {
	digits := strings.ReplaceAll(m, ":", "")
	if len(digits) != 12 || !isHex(digits) {
		return false
	}
	return strings.Trim(digits, "0") != "" && strings.Trim(digits, "f") != ""
}
