// Package cluster shares licenses between the two to six peers of a
// cluster: each node is the only authority over its own installed
// licenses and lends one it does not use to a peer that has none left,
// under a lease the borrower renews while the lender answers.
//
// The package knows nothing of the licensing agent: a Node asks a Ledger
// (the agent) whether a license can be spared and how many borrowed ones
// it still needs. Peers talk over TLS 1.3 on a fixed TCP port; before any
// other message both ends prove they know the cluster secret with an HMAC
// bound to that very TLS channel (link.go). Messages are JSON lines with a
// size cap (wire.go). Every lease and heartbeat timer runs on an injected
// clock.Clock. docs/cluster.md describes the protocol, its security and
// its failure behaviour.
//
// Files by concern: config.go the settings and their checks, link.go the
// authenticated channel, wire.go the messages, node.go the lending and
// borrowing, store.go the loans kept across a restart of the lender.
package cluster
