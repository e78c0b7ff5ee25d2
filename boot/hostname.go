package boot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultHostname is the name used when neither the device configuration
// nor the image names one.
const DefaultHostname = "vxway"

// Hostname returns the host name the device should carry: the one in
// data/config/system.json when that file sets one, else the image's default
// from etc/vxway/image.json, else DefaultHostname. A file that exists but
// cannot be read or parsed is reported along with the name used instead.
func Hostname(root string) (string, error) {
	var errs []error
	for _, src := range []struct{ path, key string }{
		{"data/config/system.json", "hostname"},
		{"etc/vxway/image.json", "hostname"},
	} {
		name, err := hostnameFrom(filepath.Join(root, src.path), src.key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if name != "" {
			return name, errors.Join(errs...)
		}
	}
	return DefaultHostname, errors.Join(errs...)
}

func hostnameFrom(path, key string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("parsing %s: %w", path, err)
	}
	s, _ := m[key].(string)
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if !ValidHostname(s) {
		return "", fmt.Errorf("%s: %s %q is not a valid host name", path, key, s)
	}
	return s, nil
}

// ValidHostname reports whether s is a host name the kernel and DNS accept:
// 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen.
func ValidHostname(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// SetHostname sets the kernel host name from Hostname and returns it.
func (b *Boot) SetHostname() (string, error) {
	name, err := Hostname(b.Root)
	if err != nil {
		b.logf("%v", err)
	}
	if err := b.Sys.SetHostname(name); err != nil {
		return name, fmt.Errorf("setting the host name to %q: %w", name, err)
	}
	return name, nil
}
