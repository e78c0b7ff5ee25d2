package ssm

import (
	"strconv"
	"strings"
	"sync"

	"vxway/licproto"
)

// maxUsageHints bounds the usage hints kept in memory.
const maxUsageHints = 100_000

// usageHints remembers, per instance, the usage this manager last stored
// or confirmed for it. It only spares a read: an authorization reporting
// other usage than remembered goes straight to the writer's transaction,
// which reads and judges under lock whatever the hint said, so a stale
// hint (another manager on the same PostgreSQL database, an admin command)
// costs at worst a renewal that waits for a commit it did not need. A
// first authorization after a registration, and every change of usage,
// so skip the read that answers unchanged renewals.
type usageHints struct {
	mu sync.Mutex
	m  map[string]string // UDI -> usageKey
}

// usageKey writes usage in a fixed order, types not in use left out.
func usageKey[N int | int64](usage map[licproto.LicenseType]N) string {
	var b strings.Builder
	for _, t := range licproto.LicenseTypes() {
		if n := usage[t]; n != 0 {
			b.WriteString(string(t))
			b.WriteByte('=')
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteByte(';')
		}
	}
	return b.String()
}

// changed reports whether udi's remembered usage differs from usage; an
// instance not remembered is not known to have changed.
func (h *usageHints) changed(udi string, usage map[licproto.LicenseType]int) bool {
	h.mu.Lock()
	k, ok := h.m[udi]
	h.mu.Unlock()
	return ok && k != usageKey(usage)
}

// set remembers the usage stored for udi.
func (h *usageHints) set(udi, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxUsageHints {
		h.m = map[string]string{}
	}
	h.m[udi] = key
}

// forget drops what is remembered of udi.
func (h *usageHints) forget(udi string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, udi)
}
