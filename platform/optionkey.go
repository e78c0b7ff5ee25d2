package platform

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"vxway/atomicfile"
	"vxway/clock"
)

// Where option keys are kept, below the root. VCS keys live on data (a
// factory reset drops them unless told to keep them); the MS Interop key
// lives on persist, so it survives conversion to Expressway and resets.
const (
	OptionKeyDir        = "data/optionkeys"
	PersistOptionKeyDir = "persist/optionkeys"
)

// ErrNoVendorKey marks an image that trusts no option-key signing key.
var ErrNoVendorKey = errors.New("this image trusts no option-key signing key")

// Option is a feature an option key unlocks.
type Option struct {
	Code  byte
	Name  string
	Title string
	// Counted options carry a quantity (sessions, registrations).
	Counted bool
}

// Option names.
const (
	OptionMSInterop               = "MSInterop"
	OptionAdvancedAccountSecurity = "AdvancedAccountSecurity"
	OptionHSM                     = "HSM"
)

// Options lists the option keys a VCS accepts.
func Options() []Option {
	return []Option{
		{1, OptionMSInterop, "Microsoft Interoperability", false},
		{2, OptionAdvancedAccountSecurity, "Advanced Account Security", false},
		{3, OptionHSM, "Hardware Security Module", false},
		{4, "TraversalServer", "Traversal Server", false},
		{5, "RichMediaSessions", "Rich Media Sessions", true},
		{6, "RoomSystems", "Room System Registrations", true},
		{7, "DesktopSystems", "Desktop System Registrations", true},
		{8, "DeviceProvisioning", "Device Provisioning", false},
		{9, "TURNRelays", "TURN Relays", true},
	}
}

func optionByCode(c byte) (Option, bool) {
	for _, o := range Options() {
		if o.Code == c {
			return o, true
		}
	}
	return Option{}, false
}

// OptionByName finds an option by name, ignoring case.
func OptionByName(name string) (Option, bool) {
	for _, o := range Options() {
		if strings.EqualFold(o.Name, name) {
			return o, true
		}
	}
	return Option{}, false
}

// Errors of option keys that callers branch on.
var (
	ErrBadOptionKey     = errors.New("invalid option key")
	ErrForeignOptionKey = errors.New("option key is for another device")
	ErrOptionKeysLocked = errors.New("option keys cannot be changed on Expressway")
	ErrOptionKeyExists  = errors.New("option key already installed")
	ErrNoOptionKey      = errors.New("no such option key")
)

// OptionKey is the content of a key: which device, which option, how many.
type OptionKey struct {
	Serial string
	Option string
	Count  int
	// Nonce tells apart two keys for the same option and device.
	Nonce uint32
}

// The key wire format, version 1: a 12-byte body (version, serial as 4
// bytes, option code, count as uint16, nonce as uint32, big-endian) and an
// Ed25519 signature of a context string plus the body; base32 without
// padding, after the prefix, in dash-separated groups of 8.
const (
	optionKeyPrefix  = "VXOK1-"
	optionKeyVersion = 1
	optionBodyLen    = 12
	optionKeyLen     = optionBodyLen + ed25519.SignatureSize
	optionSigContext = "vxway option key\x00"
	maxOptionKeyText = 512
)

func optionKeyEncoding() *base32.Encoding { return base32.StdEncoding.WithPadding(base32.NoPadding) }

func (k OptionKey) body() ([]byte, error) {
	o, ok := OptionByName(k.Option)
	if !ok {
		return nil, fmt.Errorf("%w: unknown option %q", ErrBadOptionKey, k.Option)
	}
	serial, err := hex.DecodeString(k.Serial)
	if err != nil || len(serial) != 4 {
		return nil, fmt.Errorf("%w: serial %q is not 8 hex digits", ErrBadOptionKey, k.Serial)
	}
	if o.Counted != (k.Count > 0) || k.Count < 0 || k.Count > 0xffff {
		return nil, fmt.Errorf("%w: count %d does not fit option %s", ErrBadOptionKey, k.Count, o.Name)
	}
	b := make([]byte, 0, optionBodyLen)
	b = append(b, optionKeyVersion)
	b = append(b, serial...)
	b = append(b, o.Code)
	b = binary.BigEndian.AppendUint16(b, uint16(k.Count))
	b = binary.BigEndian.AppendUint32(b, k.Nonce)
	return b, nil
}

// SignOptionKey makes the text of key k signed by priv.
func SignOptionKey(priv ed25519.PrivateKey, k OptionKey) (string, error) {
	body, err := k.body()
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(priv, append([]byte(optionSigContext), body...))
	return optionKeyPrefix + groupsOf8(optionKeyEncoding().EncodeToString(append(body, sig...))), nil
}

// ParseOptionKey decodes key text and verifies it against the vendor keys
// pubs (any one of them may have signed it). Case, dashes and white space
// inside the key do not matter.
func ParseOptionKey(text string, pubs ...ed25519.PublicKey) (OptionKey, error) {
	k, _, err := parseOptionKey(text, pubs)
	return k, err
}

// keyBytes decodes key text (the prefix, then base32 in any case, with
// dashes and white space anywhere) to the key's bytes.
func keyBytes(text string) ([]byte, error) {
	if len(text) > maxOptionKeyText {
		return nil, fmt.Errorf("%w: %d characters is far too long for a key", ErrBadOptionKey, len(text))
	}
	s := strings.ToUpper(strings.TrimSpace(text))
	rest, ok := strings.CutPrefix(s, optionKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it must start with %s", ErrBadOptionKey, optionKeyPrefix)
	}
	rest = strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, rest)
	raw, err := optionKeyEncoding().DecodeString(rest)
	if err != nil || len(raw) != optionKeyLen {
		return nil, fmt.Errorf("%w: the key is damaged or incomplete; copy it again", ErrBadOptionKey)
	}
	return raw, nil
}

// parseOptionKey is ParseOptionKey that also returns the key's bytes.
func parseOptionKey(text string, pubs []ed25519.PublicKey) (OptionKey, []byte, error) {
	raw, err := keyBytes(text)
	if err != nil {
		return OptionKey{}, nil, err
	}
	body, sig := raw[:optionBodyLen], raw[optionBodyLen:]
	if body[0] != optionKeyVersion {
		return OptionKey{}, nil, fmt.Errorf("%w: key version %d is not supported", ErrBadOptionKey, body[0])
	}
	if !verifiesWithAny(pubs, append([]byte(optionSigContext), body...), sig) {
		return OptionKey{}, nil, fmt.Errorf("%w: the signature does not verify; the key is damaged or not issued by the vendor", ErrBadOptionKey)
	}
	o, ok := optionByCode(body[5])
	if !ok {
		return OptionKey{}, nil, fmt.Errorf("%w: option code %d is unknown to this software", ErrBadOptionKey, body[5])
	}
	k := OptionKey{
		Serial: strings.ToUpper(hex.EncodeToString(body[1:5])),
		Option: o.Name,
		Count:  int(binary.BigEndian.Uint16(body[6:8])),
		Nonce:  binary.BigEndian.Uint32(body[8:12]),
	}
	if o.Counted != (k.Count > 0) {
		return OptionKey{}, nil, fmt.Errorf("%w: count %d does not fit option %s", ErrBadOptionKey, k.Count, o.Name)
	}
	return k, raw, nil
}

// canonicalKey is the stored spelling (prefix, upper case, groups of 8)
// and the fingerprint of a key's bytes. They come from the decoded bytes,
// not the text: base32 leaves spare bits in the last character, so one key
// has several spellings, and all of them are the same key.
func canonicalKey(raw []byte) (string, string) {
	s := optionKeyEncoding().EncodeToString(raw)
	sum := sha256.Sum256([]byte(s))
	return optionKeyPrefix + groupsOf8(s), hex.EncodeToString(sum[:6])
}

// sameKey reports whether an installed key is the key whose bytes are raw.
func (ik InstalledKey) sameKey(raw []byte) bool {
	b, err := keyBytes(ik.Key)
	return err == nil && bytes.Equal(b, raw)
}

func groupsOf8(s string) string {
	var groups []string
	for len(s) > 8 {
		groups = append(groups, s[:8])
		s = s[8:]
	}
	return strings.Join(append(groups, s), "-")
}

// InstalledKey is one installed option key, as stored.
type InstalledKey struct {
	Key    string    `json:"key"`
	Option string    `json:"option"`
	Count  int       `json:"count,omitempty"`
	Serial string    `json:"serial"`
	Added  time.Time `json:"added"`
	// Active is false for keys a Smart Licensing device keeps but does
	// not use. It is worked out when listing, not stored.
	Active bool `json:"-"`
	id     string
	dir    string
}

func verifiesWithAny(pubs []ed25519.PublicKey, msg, sig []byte) bool {
	for _, pub := range pubs {
		if len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig) {
			return true
		}
	}
	return false
}

// OptionKeys is the option key store of a device root.
type OptionKeys struct {
	root  string
	clock clock.Clock
}

// NewOptionKeys returns the option keys of root, verified with the vendor
// keys the image trusts (image.json; nil clock means the real one).
func NewOptionKeys(root string, c clock.Clock) *OptionKeys {
	if c == nil {
		c = clock.Real{}
	}
	return &OptionKeys{root: root, clock: c}
}

// vendorKeys returns the option-key signing keys the image trusts.
func (o *OptionKeys) vendorKeys() ([]ed25519.PublicKey, error) {
	info, err := LoadImageInfo(o.root)
	if err != nil {
		return nil, err
	}
	keys, err := info.VendorKeys()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: option keys cannot be installed; build the image with the vendor's public key in appliance.toml [option_keys] public_key_files", ErrNoVendorKey)
	}
	return keys, nil
}

// Add verifies key text and installs it. It is refused on Expressway (Smart
// Licensing only), when it was issued for another serial, when its
// signature does not verify, and when it is already installed.
func (o *OptionKeys) Add(text string) (InstalledKey, error) {
	cfg, err := LoadSystemConfig(o.root)
	if err != nil {
		return InstalledKey{}, err
	}
	if cfg.SmartLicensingEnabled {
		return InstalledKey{}, fmt.Errorf("%w: this device uses Smart Licensing only, so option keys cannot be added", ErrOptionKeysLocked)
	}
	vendor, err := o.vendorKeys()
	if err != nil {
		return InstalledKey{}, err
	}
	k, raw, err := parseOptionKey(text, vendor)
	if err != nil {
		return InstalledKey{}, err
	}
	id, err := LoadIdentity(o.root, o.clock)
	if err != nil {
		return InstalledKey{}, err
	}
	if k.Serial != id.Serial {
		return InstalledKey{}, fmt.Errorf("%w: it was issued for serial %s and this device is %s; ask for a key for %s", ErrForeignOptionKey, k.Serial, id.Serial, id.Serial)
	}
	canon, fp := canonicalKey(raw)
	existing, err := o.List()
	if err != nil {
		return InstalledKey{}, err
	}
	for _, e := range existing {
		if e.id == fp || e.sameKey(raw) {
			return InstalledKey{}, fmt.Errorf("%w: %s", ErrOptionKeyExists, k.Option)
		}
	}
	dir := OptionKeyDir
	if k.Option == OptionMSInterop {
		dir = PersistOptionKeyDir
	}
	ik := InstalledKey{Key: canon, Option: k.Option, Count: k.Count, Serial: k.Serial, Added: o.clock.Now().UTC(), Active: true, id: fp, dir: dir}
	b, err := json.MarshalIndent(ik, "", "  ")
	if err != nil {
		return InstalledKey{}, fmt.Errorf("encoding option key: %w", err)
	}
	if err := writeFile(filepath.Join(o.root, dir, fp+".json"), append(b, '\n'), 0o644); err != nil {
		return InstalledKey{}, err
	}
	return ik, nil
}

// List returns the installed keys, oldest first. On a Smart Licensing
// device only a kept MS Interop key is active.
func (o *OptionKeys) List() ([]InstalledKey, error) {
	cfg, err := LoadSystemConfig(o.root)
	if err != nil {
		return nil, err
	}
	var out []InstalledKey
	for _, dir := range []string{PersistOptionKeyDir, OptionKeyDir} {
		full := filepath.Join(o.root, dir)
		ents, err := os.ReadDir(full)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", full, err)
		}
		for _, e := range ents {
			name, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || strings.HasPrefix(name, ".") {
				continue
			}
			p := filepath.Join(full, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", p, err)
			}
			var ik InstalledKey
			if err := json.Unmarshal(b, &ik); err != nil {
				return nil, fmt.Errorf("parsing %s: %w", p, err)
			}
			ik.id, ik.dir = name, dir
			ik.Active = !cfg.SmartLicensingEnabled || ik.Option == OptionMSInterop
			out = append(out, ik)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Added.Equal(out[j].Added) {
			return out[i].Added.Before(out[j].Added)
		}
		return out[i].id < out[j].id
	})
	return out, nil
}

// Remove deletes an installed key, named by its text or by its 1-based
// index in List. Removing is refused on Expressway: a removed key could
// not be added again.
func (o *OptionKeys) Remove(keyOrIndex string) (InstalledKey, error) {
	cfg, err := LoadSystemConfig(o.root)
	if err != nil {
		return InstalledKey{}, err
	}
	if cfg.SmartLicensingEnabled {
		return InstalledKey{}, fmt.Errorf("%w: a removed key could not be added again under Smart Licensing", ErrOptionKeysLocked)
	}
	list, err := o.List()
	if err != nil {
		return InstalledKey{}, err
	}
	var found *InstalledKey
	if n, err := strconv.Atoi(strings.TrimSpace(keyOrIndex)); err == nil {
		if n < 1 || n > len(list) {
			return InstalledKey{}, fmt.Errorf("%w: index %d; xstatus OptionKey lists %d keys", ErrNoOptionKey, n, len(list))
		}
		found = &list[n-1]
	} else {
		if raw, err := keyBytes(keyOrIndex); err == nil {
			for i := range list {
				if list[i].sameKey(raw) {
					found = &list[i]
				}
			}
		}
		if found == nil {
			return InstalledKey{}, fmt.Errorf("%w: that key is not installed; xstatus OptionKey lists the installed ones", ErrNoOptionKey)
		}
	}
	p := filepath.Join(o.root, found.dir, found.id+".json")
	if err := os.Remove(p); err != nil {
		return InstalledKey{}, fmt.Errorf("removing option key %s: %w", found.Option, err)
	}
	return *found, atomicfile.SyncDir(filepath.Dir(p))
}

// Feature reports whether a feature that needs an option key is available,
// and why not. With Smart Licensing, Advanced Account Security and HSM are
// unavailable; MS Interop works only through a key kept from VCS days.
func (o *OptionKeys) Feature(option string) (bool, string, error) {
	opt, ok := OptionByName(option)
	if !ok {
		return false, "", fmt.Errorf("%w: unknown option %q", ErrBadValue, option)
	}
	cfg, err := LoadSystemConfig(o.root)
	if err != nil {
		return false, "", err
	}
	list, err := o.List()
	if err != nil {
		return false, "", err
	}
	for _, k := range list {
		if k.Option == opt.Name && k.Active {
			return true, "option key installed", nil
		}
	}
	if cfg.SmartLicensingEnabled {
		return false, "not available with Smart Licensing", nil
	}
	return false, "needs the " + opt.Title + " option key", nil
}
