//go:build !linux

package vm

// KVMWorks reports false: KVM exists on Linux only.
func KVMWorks(qemu string) bool { return false }
