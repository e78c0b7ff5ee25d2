package agent

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerUID is the user id of the process at the other end of a unix socket
// connection, as the kernel recorded it when the connection was made
// (SO_PEERCRED).
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%w: %T is not a unix socket connection", errNoPeer, c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errNoPeer, err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("%w: %w", errNoPeer, err)
	}
	if cerr != nil {
		return 0, fmt.Errorf("%w: reading SO_PEERCRED: %w", errNoPeer, cerr)
	}
	return cred.Uid, nil
}
