package main

import (
	"net"
	"syscall"
)

// udpReadBuffer is the SIP UDP socket's receive buffer: a burst of
// answers (a batch of admitted calls forwarded at once, each answered
// 180 and 200) must not overflow the kernel's default of about 208 KiB.
const udpReadBuffer = 4 << 20

// growReadBuffer sets c's receive buffer to udpReadBuffer: beyond the
// system's limit (net.core.rmem_max) when running as root
// (SO_RCVBUFFORCE), else up to it.
func growReadBuffer(c net.PacketConn) {
	uc, ok := c.(*net.UDPConn)
	if !ok {
		return
	}
	if rc, err := uc.SyscallConn(); err == nil {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, udpReadBuffer)
		}); err == nil && serr == nil {
			return
		}
	}
	uc.SetReadBuffer(udpReadBuffer)
}
