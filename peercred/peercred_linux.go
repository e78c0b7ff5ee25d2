package peercred

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// UID is the user id of the process at the other end of the unix socket
// connection c, as the kernel recorded it when the connection was made.
func UID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%w: %T is not a unix socket connection", ErrUnknown, c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnknown, err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnknown, err)
	}
	if cerr != nil {
		return 0, fmt.Errorf("%w: reading SO_PEERCRED: %w", ErrUnknown, cerr)
	}
	return cred.Uid, nil
}
