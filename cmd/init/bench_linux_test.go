package main

import (
	"context"
	"io"
	"testing"

	"vxway/boot"
)

// BenchmarkSecondBoot measures init's own part of a boot (mounts through
// fake system calls, factory-reset check, provisioning check, platform,
// keys loaded, servers listening) over a temporary root whose keys already
// exist, without the agent. The device's figure adds the agent's start-up
// and the real mounts; it prints both at every boot.
func BenchmarkSecondBoot(b *testing.B) {
	root := newRoot(b, false)
	first := newTestDevice(root, io.Discard, &fakeSystem{}, "")
	if err := first.start(context.Background()); err != nil {
		b.Fatal(err)
	}
	first.shutdown(boot.Reboot)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := newTestDevice(root, io.Discard, &fakeSystem{}, "")
		if err := d.start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		d.shutdown(boot.Reboot)
		b.StartTimer()
	}
}
