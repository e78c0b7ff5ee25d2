package backup

import (
	"errors"
	"testing"
)

// fuzzLimits allow only the cheap derivation, so that each input costs
// one 8 MiB pass at most.
var fuzzLimits = Limits{MinMemoryKiB: 8 << 10, MaxMemoryKiB: 8 << 10, MaxTime: 1, MaxThreads: 1}

// FuzzOpen feeds the archive reader arbitrary bytes: it never panics,
// every refusal is one of its reasons, and what it accepts is a clean
// list of files below data/.
func FuzzOpen(f *testing.F) {
	good, err := Seal(Header{SoftwareVersion: "X14.2.0", Serial: "0A0A0A0A", KDF: fastKDF},
		[]File{{Path: "data/config/system.json", Mode: 0o644, Data: []byte(`{"hostname": "a"}`)}}, password)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:20])
	f.Add([]byte(magic + "\x00\x00\x00\x02{}"))
	f.Add([]byte("VXBACKUP\x00\x00\x10\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, files, err := Open(b, password, fuzzLimits)
		if err != nil {
			for _, reason := range []error{ErrNotBackup, ErrTruncated, ErrWrongPassword, ErrTampered, ErrTooCostly, ErrUnsupported} {
				if errors.Is(err, reason) {
					return
				}
			}
			t.Fatalf("refusal without a reason: %v", err)
		}
		if err := checkFiles(files); err != nil {
			t.Fatalf("accepted files that do not check: %v", err)
		}
	})
}
