//go:build !linux

package main

import "net"

// udpReadBuffer is the SIP UDP socket's receive buffer (see the Linux
// version).
const udpReadBuffer = 4 << 20

// growReadBuffer sets c's receive buffer, up to the system's limit.
func growReadBuffer(c net.PacketConn) {
	if uc, ok := c.(*net.UDPConn); ok {
		uc.SetReadBuffer(udpReadBuffer)
	}
}
