package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"

	"vxway/agentclient"
	"vxway/peercred"
	"vxway/platform"
)

// Policy says which local users may use the agent's API, by user id as the
// kernel reports the peer of the socket connection. Read may make the
// requests that only look (GET: status and configuration); Change may make
// every request, including those that change configuration, register,
// reserve or report usage.
type Policy struct {
	Read   []uint32
	Change []uint32
}

// DevicePolicy is the policy on the device: root (init, the network service,
// provisioning, the root shell), the agent's own user and the admin shell's
// user may do everything; nobody else may do anything. The socket's mode
// keeps other users from connecting at all; this check holds even if the
// socket's mode is widened.
func DevicePolicy(self uint32) Policy {
	all := []uint32{0, self, platform.UIDAdmin}
	return Policy{Read: all, Change: all}
}

// readOnly reports whether a request of method only looks.
func readOnly(method string) bool {
	return method == http.MethodGet || method == http.MethodHead
}

// Check is nil when the user uid may make a request of method, else an
// error wrapping agentclient.ErrNotPermitted that says what to do.
func (p Policy) Check(method string, uid uint32) error {
	if slices.Contains(p.Change, uid) {
		return nil
	}
	if readOnly(method) {
		if slices.Contains(p.Read, uid) {
			return nil
		}
		return fmt.Errorf("%w: user id %d may not read the Smart Licensing status: only root and the admin account may; log in as admin", agentclient.ErrNotPermitted, uid)
	}
	return fmt.Errorf("%w: user id %d may not change Smart Licensing: only root and the admin account may; log in as admin", agentclient.ErrNotPermitted, uid)
}

type peerKey struct{}

// localPeer is what the kernel says about the other end of a connection.
type localPeer struct {
	uid uint32
	err error
}

// withPeer records the peer of c in ctx; it is the server's ConnContext.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uid, err := peercred.UID(c)
	return context.WithValue(ctx, peerKey{}, localPeer{uid: uid, err: err})
}

// Guard answers each request with agentclient.ErrNotPermitted unless p lets
// its peer make it, else passes it to h.
func (p Policy) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr, ok := r.Context().Value(peerKey{}).(localPeer)
		err := pr.err
		if !ok {
			err = peercred.ErrUnknown
		}
		if err != nil {
			reply(w, nil, fmt.Errorf("%w: %w", agentclient.ErrNotPermitted, err))
			return
		}
		if err := p.Check(r.Method, pr.uid); err != nil {
			reply(w, nil, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
