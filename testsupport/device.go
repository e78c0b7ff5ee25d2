package testsupport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"vxway/platform"
)

// DefaultPassword is the sample build config's password for both
// accounts; it raises the default-password alarms until changed.
const DefaultPassword = "TANDBERG"

// ProductUUID is the SMBIOS UUID that WriteProductUUID gives a device.
const ProductUUID = "4c4c4544-0042-3510-8056-b4c04f4e3132"

// ImageInfo returns image facts like those the sample build config bakes
// in: software version X14.2.0, host name expe01, the given brand, type
// Expressway-C, and DefaultPassword for root and admin. Tests change the
// fields they care about before writing it.
func ImageInfo(t testing.TB, brand string) *platform.ImageInfo {
	t.Helper()
	h := PasswordHashes(t, DefaultPassword, DefaultPassword)
	return &platform.ImageInfo{
		SoftwareVersion: "X14.2.0",
		Hostname:        "expe01",
		Brand:           brand,
		Type:            string(platform.TypeC),
		PasswordHashes:  h,
	}
}

var hashes sync.Map // "root\x00admin" -> platform.PasswordHashes

// PasswordHashes returns the image-facts hashes of the given root and
// admin passwords. Hashing is slow on purpose, so a process hashes each
// pair once.
func PasswordHashes(t testing.TB, rootPassword, adminPassword string) platform.PasswordHashes {
	t.Helper()
	key := rootPassword + "\x00" + adminPassword
	if h, ok := hashes.Load(key); ok {
		return h.(platform.PasswordHashes)
	}
	rh, err := platform.HashPassword(rootPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	ah, err := platform.HashPassword(adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	h := platform.PasswordHashes{Root: rh, Admin: ah}
	hashes.Store(key, h)
	return h
}

// DeviceRoot makes a device root in a new temporary directory, holding
// info as the image facts (none when info is nil), and returns its path.
func DeviceRoot(t testing.TB, info *platform.ImageInfo) string {
	t.Helper()
	root := t.TempDir()
	if info != nil {
		if err := platform.WriteImageInfo(root, info); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// WriteFiles writes each file of files (a path relative to root, and its
// content) under root, making the directories it needs.
func WriteFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// WriteProductUUID gives the device root the SMBIOS UUID ProductUUID, from
// which the platform derives the device's serial number.
func WriteProductUUID(t testing.TB, root string) {
	t.Helper()
	WriteFiles(t, root, map[string]string{"sys/class/dmi/id/product_uuid": ProductUUID + "\n"})
}

// WritePartitions gives the device root a virtio disk whose partitions
// vda1, vda2, ... carry the GPT names names, the way the kernel shows them:
// a uevent under sys/class/block with DEVNAME and PARTNAME, and a blank
// 4 KiB device file under dev.
func WritePartitions(t testing.TB, root string, names ...string) {
	t.Helper()
	files := map[string]string{
		"sys/class/block/vda/uevent": "DEVNAME=vda\nDEVTYPE=disk\n",
		"dev/vda":                    strings.Repeat("\x00", 4096),
	}
	for i, name := range names {
		dev := fmt.Sprintf("vda%d", i+1)
		files["sys/class/block/"+dev+"/uevent"] = fmt.Sprintf("DEVNAME=%s\nDEVTYPE=partition\nPARTN=%d\nPARTNAME=%s\n", dev, i+1, name)
		files["dev/"+dev] = strings.Repeat("\x00", 4096)
	}
	WriteFiles(t, root, files)
}

// ext4MagicOffset is where an ext4 superblock's magic number sits on the
// device (superblock at 1024, s_magic at 0x38).
const ext4MagicOffset = 1080

// WriteExt4Magic makes a blank device file look formatted: it writes the
// ext4 superblock magic, which is what boot checks before mounting. Fake
// systems call it where the device would run mke2fs.
func WriteExt4Magic(device string) error {
	f, err := os.OpenFile(device, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("formatting %s: %w", device, err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{0x53, 0xEF}, ext4MagicOffset); err != nil {
		return fmt.Errorf("formatting %s: %w", device, err)
	}
	return nil
}
