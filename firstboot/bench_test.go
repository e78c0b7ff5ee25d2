package firstboot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	seedfmt "vxway/firstboot/seed"
	"vxway/testsupport"
	"vxway/vm"

	"vxway/clock"
	"vxway/platform"
)

// BenchmarkParse measures checking a full seed.
func BenchmarkParse(b *testing.B) {
	seed := []byte(testsupport.FullSeed(b))
	for b.Loop() {
		if _, err := seedfmt.Parse(seed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyFullSeed measures what provisioning adds to a first boot
// before the network comes up: finding the VXPROV disk among the block
// devices, reading and checking the seed, and applying it under the
// journal (the password hashing included).
func BenchmarkApplyFullSeed(b *testing.B) {
	seed := []byte(testsupport.FullSeed(b))
	dir := b.TempDir()
	img := filepath.Join(dir, "seed.img")
	if err := vm.WriteSeedDisk(img, seed); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		root := filepath.Join(dir, "root")
		os.RemoveAll(root)
		for _, d := range []string{"sys/class/block/vda", "sys/class/block/vdb", "dev"} {
			os.MkdirAll(filepath.Join(root, d), 0o755)
		}
		os.WriteFile(filepath.Join(root, "dev/vda"), make([]byte, 4096), 0o600)
		os.Link(img, filepath.Join(root, "dev/vdb"))
		if err := platform.WriteImageInfo(root, &platform.ImageInfo{Hostname: "vxway", Brand: "Expressway", Type: "Expressway-C",
			PasswordHashes: platform.PasswordHashes{Root: testsupport.SeedSHA512Hash, Admin: testsupport.SeedSHA512Hash}}); err != nil {
			b.Fatal(err)
		}
		p := &provisioner{root: root, log: &bytes.Buffer{}, clock: clock.Real{}, sources: []Source{&DiskSource{Root: root}}}
		b.StartTimer()
		if err := p.apply(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
