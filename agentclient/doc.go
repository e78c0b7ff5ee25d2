// Package agentclient is the client side of the Smart Licensing agent's
// local API: the socket path both sides use, the Client the admin CLI,
// provisioning and the network service call the agent with, the wire
// types they exchange (Status, Config, the sentinel errors the API carries
// back for errors.Is), Config validation as pure functions, and the xAPI
// handlers of `License Smart` that run inside the admin CLI.
//
// It holds no licensing state: the agent daemon (package agent) owns that
// and imports this package for the types, so a program that only talks to
// the agent does not link the daemon's state machine.
package agentclient
