//go:build !linux

package atomicfile

// Lock serialises nothing where flock is not available.
func Lock(string) (func(), error) { return func() {}, nil }
