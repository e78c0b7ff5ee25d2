package backup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNewerVersion marks a backup made by newer software than the running
// one: its files may hold what this software cannot read.
var ErrNewerVersion = errors.New("the backup was made by a newer software version")

// versionParts reads the dotted numbers of a version such as X14.2.0 or
// X14.2.0-vxway: letters before them and anything after them are not
// compared.
func versionParts(v string) ([]int, bool) {
	s := strings.TrimLeftFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	end := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end >= 0 {
		s = s[:end]
	}
	s = strings.TrimRight(s, ".")
	if s == "" {
		return nil, false
	}
	var parts []int
	for _, f := range strings.Split(s, ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, false
		}
		parts = append(parts, n)
	}
	return parts, true
}

// CheckVersion refuses a backup made by a newer software version than
// running. Versions whose numbers cannot be read are accepted only when
// they are the same string.
func CheckVersion(backup, running string) error {
	if backup == running {
		return nil
	}
	b, okB := versionParts(backup)
	r, okR := versionParts(running)
	if !okB || !okR {
		return fmt.Errorf("%w: made by %q, running %q, and the two cannot be compared", ErrNewerVersion, backup, running)
	}
	for i := 0; i < max(len(b), len(r)); i++ {
		var x, y int
		if i < len(b) {
			x = b[i]
		}
		if i < len(r) {
			y = r[i]
		}
		if x != y {
			if x > y {
				return fmt.Errorf("%w: made by %s, this device runs %s; upgrade the device first", ErrNewerVersion, backup, running)
			}
			return nil
		}
	}
	return nil
}
