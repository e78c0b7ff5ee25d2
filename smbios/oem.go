package smbios

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// TablePath is the kernel's copy of the SMBIOS structure table, below
// the root (readable by root only).
const TablePath = "sys/firmware/dmi/tables/DMI"

// maxTable bounds what is read of the table (SMBIOS 3 allows 4 GiB;
// hypervisors give a few KiB).
const maxTable = 1 << 20

// Structure types.
const (
	typeOEMStrings = 11
	typeEnd        = 127
)

// OEMStrings returns the OEM strings of the machine under root, nil
// when the table is not there (no SMBIOS, or not Linux).
func OEMStrings(root string) ([]string, error) {
	f, err := os.Open(filepath.Join(root, TablePath))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the SMBIOS table: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTable))
	if err != nil {
		return nil, fmt.Errorf("reading the SMBIOS table: %w", err)
	}
	return ParseOEMStrings(b), nil
}

// ParseOEMStrings returns the strings of every OEM strings structure
// (type 11) of a raw SMBIOS structure table, in order. A damaged table
// gives what was read before the damage.
func ParseOEMStrings(table []byte) []string {
	var out []string
	for len(table) >= 4 {
		typ, length := table[0], int(table[1])
		if length < 4 || length > len(table) {
			break
		}
		formatted := table[:length]
		rest := table[length:]
		// The string set ends with two NULs (just two when empty).
		end := -1
		for i := 0; i+1 < len(rest); i++ {
			if rest[i] == 0 && rest[i+1] == 0 {
				end = i
				break
			}
		}
		if end < 0 {
			break
		}
		if typ == typeOEMStrings && length >= 5 {
			strs := strings.Split(string(rest[:end]), "\x00")
			count := int(formatted[4])
			if end == 0 {
				strs = nil
			}
			out = append(out, strs[:min(count, len(strs))]...)
		}
		if typ == typeEnd {
			break
		}
		table = rest[end+2:]
	}
	return out
}

// Value returns the value of the first "key=value" string for key.
func Value(strs []string, key string) (string, bool) {
	for _, s := range strs {
		if k, v, ok := strings.Cut(s, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
