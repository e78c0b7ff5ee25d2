package image

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"vxway/rootfs"
)

// PartInfo describes one GPT partition of an image.
type PartInfo struct {
	Index int
	Name  string
	Type  string
	GUID  string
	Start int64 // bytes
	Size  int64 // bytes
}

// Partitions reads the GPT of an image.
func Partitions(img string) ([]PartInfo, error) {
	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", img, err)
	}
	defer d.Close()
	t, err := d.GetPartitionTable()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the partition table: %w (is it a vxway image?)", img, err)
	}
	gt, ok := t.(*gpt.Table)
	if !ok {
		return nil, fmt.Errorf("%s: not a GPT disk", img)
	}
	var out []PartInfo
	for i, p := range gt.Partitions {
		if p.Type == gpt.Unused {
			continue
		}
		out = append(out, PartInfo{
			Index: i + 1, Name: p.Name, Type: typeName(p.Type), GUID: p.GUID,
			Start: int64(p.Start) * sectorSize, Size: int64(p.End-p.Start+1) * sectorSize,
		})
	}
	return out, nil
}

func typeName(t gpt.Type) string {
	switch t {
	case gpt.EFISystemPartition:
		return "EFI system"
	case gpt.LinuxFilesystem:
		return "Linux filesystem"
	}
	return string(t)
}

// Extract copies partition p of img to the file dst.
func Extract(img string, p PartInfo, dst string) error {
	in, err := os.Open(img)
	if err != nil {
		return fmt.Errorf("opening %s: %w", img, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(in, p.Start, p.Size)); err != nil {
		out.Close()
		return fmt.Errorf("copying partition %s: %w", p.Name, err)
	}
	return out.Close()
}

// ESPFiles lists the files of the image's ESP (path -> size), walking the
// FAT32 filesystem of the partition named ESP.
func ESPFiles(img string) (map[string]int64, error) {
	fsys, closeFn, err := openESP(img)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	files := map[string]int64{}
	err = fs.WalkDir(fsys, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		files["/"+p] = fi.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the ESP of %s: %w", img, err)
	}
	return files, nil
}

// ReadESPFile returns one file of the image's ESP, e.g. "/loader/loader.conf".
func ReadESPFile(img, name string) ([]byte, error) {
	fsys, closeFn, err := openESP(img)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	b, err := fs.ReadFile(fsys, strings.TrimPrefix(path.Clean(name), "/"))
	if err != nil {
		return nil, fmt.Errorf("reading %s from the ESP of %s: %w", name, img, err)
	}
	return b, nil
}

// espPartition finds the image's ESP.
func espPartition(img string) (PartInfo, error) {
	parts, err := Partitions(img)
	if err != nil {
		return PartInfo{}, err
	}
	for _, p := range parts {
		if p.Name == PartESP {
			return p, nil
		}
	}
	return PartInfo{}, fmt.Errorf("%s has no partition named %s", img, PartESP)
}

func openESP(img string) (fs.FS, func(), error) {
	esp, err := espPartition(img)
	if err != nil {
		return nil, nil, err
	}
	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", img, err)
	}
	fsys, err := d.GetFilesystem(esp.Index)
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("reading the ESP filesystem of %s: %w", img, err)
	}
	return fsys, func() { d.Close() }, nil
}

// Inspect prints the partitions of an image, the files of its ESP and its
// boot entries.
func Inspect(img string, w io.Writer) error {
	fi, err := os.Stat(img)
	if err != nil {
		return fmt.Errorf("inspecting: %w", err)
	}
	parts, err := Partitions(img)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d MiB, %.1f MiB allocated\n\n", img, fi.Size()/mib, float64(Allocated(fi))/mib)
	fmt.Fprintf(w, "%-3s %-8s %-17s %10s %10s  %s\n", "#", "NAME", "TYPE", "START", "SIZE", "GUID")
	for _, p := range parts {
		fmt.Fprintf(w, "%-3d %-8s %-17s %9dM %9dM  %s\n", p.Index, p.Name, p.Type, p.Start/mib, p.Size/mib, p.GUID)
	}
	files, err := ESPFiles(img)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "\nESP files:\n")
	for _, n := range names {
		fmt.Fprintf(w, "  %10d  %s\n", files[n], n)
	}
	for _, n := range names {
		if strings.HasSuffix(n, "/initramfs.img") {
			if err := inspectInitramfs(img, n, w); err != nil {
				return err
			}
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "/loader/") && strings.HasSuffix(n, ".conf") {
			b, err := ReadESPFile(img, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\n%s:\n%s", n, indent(string(b)))
		}
	}
	return nil
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

// inspectInitramfs prints the size and entry count of an initramfs on the
// ESP, its image.json and its trusted CA files.
func inspectInitramfs(img, name string, w io.Writer) error {
	z, err := ReadESPFile(img, name)
	if err != nil {
		return err
	}
	raw, err := rootfs.Decompress(z)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	entries, err := rootfs.ReadCPIO(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(w, "\n%s: %d entries, %.1f MiB uncompressed\n", name, len(entries), float64(len(raw))/mib)
	for _, e := range entries {
		switch {
		case e.Path == "/etc/vxway/image.json":
			fmt.Fprintf(w, "  %s:\n%s", e.Path, indent(indent(string(e.Data))))
		case strings.HasPrefix(e.Path, "/etc/vxway/trust/") && e.Kind == rootfs.File:
			fmt.Fprintf(w, "  trusted CA %s (%d bytes)\n", e.Path, len(e.Data))
		}
	}
	return nil
}
