package platform

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
)

// Validate reads passwd.json as a login would and checks every entry: a
// known account, a hash a login can check (ValidateHash) or none (the
// image's default). A backup restore runs it on the file of an archive
// before applying it.
func (u *Users) Validate() error {
	f, err := u.load()
	if err != nil {
		return err
	}
	p := filepath.Join(u.root, PasswdPath)
	names := make([]string, 0, len(f.Users))
	for n := range f.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	var problems []error
	for _, n := range names {
		if err := checkUser(n); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", p, err))
			continue
		}
		if h := f.Users[n].Hash; h != "" {
			if err := ValidateHash(h); err != nil {
				problems = append(problems, fmt.Errorf("%s: %s: %w", p, n, err))
			}
		}
	}
	return errors.Join(problems...)
}
