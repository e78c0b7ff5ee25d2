// Package agent is the Smart Licensing agent of the device: the licensing
// state machine (evaluation, registration, authorization, renewals,
// retries, expiry), its persistent state on the data partition and its
// evaluation anchor on persist, the alarms it owns, the transports that
// reach the license manager over HTTPS (Direct, On-Prem, Proxy), the local
// API on a unix socket that the admin CLI and call control use, the export
// control cap, and the xAPI handlers of `License Smart`.
//
// Time comes from an injected clock.Clock and every deadline is a timer:
// nothing polls. Expiry is judged against the manager's time, measured as
// the skew between the manager's answers and the local clock.
package agent
