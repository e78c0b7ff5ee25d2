//go:build !linux

package platform

// lockFor serialises nothing where flock is not available.
func lockFor(string) (func(), error) { return func() {}, nil }
