// Package webui is the device's web administration interface on HTTPS:
// sign-in for the admin account (sessions, CSRF tokens and the sign-in
// lockout are package websession's, shared with the license manager's
// portal), and the product's pages (status, alarms, Smart licensing, Service
// Select, network, password), rendered on the server from templates
// embedded in the binary. Every page changes the device through the same
// functions as the xAPI commands (agentclient for licensing, platform,
// netconf), so a change on a page shows in xstatus at once. It also keeps
// the server's self-signed certificate and its connection limits.
package webui
