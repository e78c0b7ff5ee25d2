// Package sipsvc is the device's SIP registrar and stateful proxy: it
// serves REGISTER (digest authentication against the local credentials),
// routes calls between registered endpoints and the neighbour zone,
// keeps the live registrations and dialogs, and reports them to the
// Smart Licensing agent, which decides every admission (docs/sip.md).
package sipsvc
