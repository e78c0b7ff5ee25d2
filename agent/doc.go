// Package agent is the Smart Licensing agent daemon of the device: the
// licensing state machine (evaluation, registration, authorization,
// renewals, retries, expiry), its persistent state on the data partition
// and its evaluation anchor on persist, the alarms it owns, the transports
// that reach the license manager over HTTPS (Direct, On-Prem, Proxy), the
// server side of the local API on a unix socket, license reservation and
// the export control cap. The client side of that API, its wire types and
// the `License Smart` xAPI handlers are package agentclient, which programs
// that only talk to the agent use instead of this one.
//
// The files by concern: agent.go construction and loading, clock.go the
// evaluation clock and manager time, trust.go trusted time, schedule.go the timer and what is
// due, exchange.go the exchanges with the manager, usage.go the usage call
// control reports, identity.go the device identity, setters.go the
// settings, classify.go the one classification of the state that
// status.go and alarms_conditions.go read.
//
// Time comes from an injected clock.Clock and every deadline is a timer:
// nothing polls. Expiry is judged against the manager's time: trust.go
// learns it from the manager's signed, nonce-bound answers and advances it
// with the monotonic clock, so the device's clock being wrong or stepped
// does not move licensing deadlines.
package agent
