// Package reservation holds the license reservation codes of the product
// (formats and reasons in docs/reservation.md) and the checks both sides
// make on them: the request code the device prints, the PLR (compact) and
// SLR (XML) authorization codes the manager signs with its ECDSA P-256
// key, the confirmation code the device prints after installing an SLR
// code, and the return code that gives reserved licenses back.
//
// The device side (package agent) makes a Request, verifies codes with
// AuthorizationCode.Verify against the manager keys it trusts, and makes
// confirmation and return codes with its Request. The manager side
// (package ssm) parses request codes, issues codes with a Signer, and
// verifies confirmation and return codes with the same Signer. See
// docs/reservation.md for the formats and why they are built this way.
package reservation
