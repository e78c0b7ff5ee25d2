package image

import (
	"os"
	"strconv"
	"sync"
	"time"
)

// epochMu serializes the code that sets SOURCE_DATE_EPOCH: go-diskfs's FAT
// writers read their timestamps from that environment variable only, and
// the environment is shared by the whole process.
var epochMu sync.Mutex

// WithSourceDateEpoch runs f with SOURCE_DATE_EPOCH set to t (for go-diskfs
// FAT timestamps) and restores the variable afterwards. Calls are
// serialized across the process.
func WithSourceDateEpoch(t time.Time, f func() error) error {
	epochMu.Lock()
	defer epochMu.Unlock()
	prev, had := os.LookupEnv("SOURCE_DATE_EPOCH")
	os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(t.Unix(), 10))
	defer func() {
		if had {
			os.Setenv("SOURCE_DATE_EPOCH", prev)
		} else {
			os.Unsetenv("SOURCE_DATE_EPOCH")
		}
	}()
	return f()
}
