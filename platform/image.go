package platform

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"vxway/atomicfile"
)

// ImageInfoPath is where the build writes the image facts, below the root.
const ImageInfoPath = "etc/vxway/image.json"

// TrustDir holds the manager CA certificates the build trusts (PEM files),
// below the root: the Smart Licensing agent's only trust store.
const TrustDir = "etc/vxway/trust"

// ImageInfo is /etc/vxway/image.json: the facts of the build, read-only on
// the device. The host build tool writes it with these JSON names.
type ImageInfo struct {
	SoftwareVersion string         `json:"software_version"`
	BuildTime       time.Time      `json:"build_time"`
	Hostname        string         `json:"hostname"`
	Brand           string         `json:"brand"`
	Type            string         `json:"type"`
	PasswordHashes  PasswordHashes `json:"password_hashes"`
	Licensing       ImageLicensing `json:"licensing"`
	// OptionKeyPublicKeys are the vendor's Ed25519 option-key signing
	// keys the image trusts, in hex; none means no option key installs.
	OptionKeyPublicKeys []string `json:"option_key_public_keys,omitempty"`
	// Product names what upgrade bundles must be built for.
	Product string `json:"product,omitempty"`
	// UpgradePublicKeys are the Ed25519 keys, in hex, whose signature an
	// upgrade bundle must carry; none means no upgrade installs.
	UpgradePublicKeys []string `json:"upgrade_public_keys,omitempty"`
}

// PasswordHashes are the default password hashes of the two accounts.
type PasswordHashes struct {
	Root  string `json:"root"`
	Admin string `json:"admin"`
}

// ImageLicensing holds the licensing facts of the build.
type ImageLicensing struct {
	// DirectURL is the manager URL of the Direct transport.
	DirectURL string `json:"direct_url"`
}

// VendorKeys decodes OptionKeyPublicKeys.
func (info *ImageInfo) VendorKeys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, h := range info.OptionKeyPublicKeys {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%s: option_key_public_keys holds %q, not a hex Ed25519 public key", ImageInfoPath, h)
		}
		keys = append(keys, ed25519.PublicKey(b))
	}
	return keys, nil
}

// UpgradeKeys decodes UpgradePublicKeys.
func (info *ImageInfo) UpgradeKeys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, h := range info.UpgradePublicKeys {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%s: upgrade_public_keys holds %q, not a hex Ed25519 public key", ImageInfoPath, h)
		}
		keys = append(keys, ed25519.PublicKey(b))
	}
	return keys, nil
}

// Marshal encodes info as image.json holds it; the host build writes the
// file with it.
func (info *ImageInfo) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", ImageInfoPath, err)
	}
	return append(b, '\n'), nil
}

// ErrNoImageInfo marks a root without /etc/vxway/image.json.
var ErrNoImageInfo = errors.New("image facts missing")

// LoadImageInfo reads root/etc/vxway/image.json. A missing file is
// ErrNoImageInfo; a file that does not parse or lacks a default password
// hash is an error naming the file.
func LoadImageInfo(root string) (*ImageInfo, error) {
	info, p, err := readImageInfo(root)
	if err != nil {
		return nil, err
	}
	var problems []error
	if info.PasswordHashes.Root == "" {
		problems = append(problems, fmt.Errorf("%s: password_hashes.root is empty", p))
	}
	if info.PasswordHashes.Admin == "" {
		problems = append(problems, fmt.Errorf("%s: password_hashes.admin is empty", p))
	}
	if info.Brand != "" {
		if _, err := ParseBrand(info.Brand); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", p, err))
		}
	}
	if info.Type != "" {
		if _, err := ParseType(info.Type); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", p, err))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return &info, nil
}

// WriteImageInfo writes info to root/etc/vxway/image.json atomically; the
// host build tool and tests use it.
func WriteImageInfo(root string, info *ImageInfo) error {
	p := filepath.Join(root, ImageInfoPath)
	b, err := info.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	return writeFile(p, b, 0o644)
}

// LoadImageLicensing reads the licensing facts of root/etc/vxway/image.json
// alone, without requiring the rest of the file (the licensing agent needs
// nothing else from it). A missing file is ErrNoImageInfo.
func LoadImageLicensing(root string) (ImageLicensing, error) {
	info, _, err := readImageInfo(root)
	if err != nil {
		return ImageLicensing{}, err
	}
	return info.Licensing, nil
}

// readImageInfo reads and parses root's image.json, returning its path
// for messages.
func readImageInfo(root string) (ImageInfo, string, error) {
	p := filepath.Join(root, ImageInfoPath)
	var info ImageInfo
	found, err := atomicfile.ReadJSON(p, &info)
	if err != nil {
		return ImageInfo{}, p, err
	}
	if !found {
		return ImageInfo{}, p, fmt.Errorf("%w: %s does not exist", ErrNoImageInfo, p)
	}
	return info, p, nil
}

// LoadImageBuildTime reads the build time of root/etc/vxway/image.json
// alone, without requiring the rest of the file: the licensing agent
// judges a device clock earlier than it as known to be wrong. A missing
// file is ErrNoImageInfo.
func LoadImageBuildTime(root string) (time.Time, error) {
	info, _, err := readImageInfo(root)
	if err != nil {
		return time.Time{}, err
	}
	return info.BuildTime, nil
}
