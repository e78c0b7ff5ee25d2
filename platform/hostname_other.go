//go:build !linux

package platform

func applyHostname(root, name string) error { return nil }
