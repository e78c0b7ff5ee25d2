// Package peercred reads who is at the other end of a unix socket
// connection, as the kernel recorded it when the connection was made
// (SO_PEERCRED). The device's local servers (the agent's API, init's
// system service) check each peer's user id with it.
package peercred

import "errors"

// ErrUnknown marks a connection whose peer the kernel did not name.
var ErrUnknown = errors.New("the peer's credentials are unknown")
