// Package netconf configures the device's network: it brings up lo and
// eth0 from the network settings (package netsettings; DHCP by default, or
// a static IPv4 address, prefix and gateway), writes /etc/resolv.conf from
// the configured or DHCP-supplied DNS servers and search domain, records
// the NTP servers, keeps the DHCP lease renewed, and applies configuration
// changes made through the xAPI (`xconfiguration IP|DNS|NTP ...`) while
// the device runs.
package netconf
