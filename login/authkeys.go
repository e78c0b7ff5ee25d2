package login

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// ErrKeyOptions marks an authorized_keys line that starts with options
// (from="...", command="...", restrict, no-pty, ...).
var ErrKeyOptions = errors.New("authorized_keys options are not supported")

// ParseAuthorizedKey parses one authorized_keys line: the key type, the
// key and an optional comment. A line with options is refused with
// ErrKeyOptions: this server cannot honour them, and taking the key
// without them would let its holder do more than the line allows (a key
// limited to one command or one source address would become a full
// login). Such a key must be given without options.
func ParseAuthorizedKey(line string) (ssh.PublicKey, error) {
	key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("not an ssh public key: %w", err)
	}
	if len(options) > 0 {
		return nil, fmt.Errorf("%w: the line starts with %s; give the key without options", ErrKeyOptions, strings.Join(options, ","))
	}
	return key, nil
}
