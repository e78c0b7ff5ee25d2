// Package sipclient is what the rest of the device uses of the SIP
// service without linking it: the SIP settings file
// (/data/config/sip.json) and the local credentials
// (/data/sip/credentials.json, HA1 digests) with their rules, load and
// save; the service's socket, client and wire types; and the xAPI
// handlers of `xconfiguration SIP`, `xconfiguration Zones`,
// `xcommand Credential`, `xcommand SIP` and `xstatus SIP`.
package sipclient
