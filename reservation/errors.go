package reservation

import "errors"

// Sentinel errors for the cases callers branch on. Every error this package
// returns wraps one of them and says, in its text, what exactly is wrong.
var (
	// ErrMalformed marks input that is not in the expected format: a
	// missing or unknown field, a bad character, a bad length.
	ErrMalformed = errors.New("malformed code")
	// ErrMistyped marks a code whose check characters do not match its
	// body: a character was mistyped or two were swapped.
	ErrMistyped = errors.New("check characters do not match: the code was mistyped")
	// ErrOversized marks input larger than any valid code.
	ErrOversized = errors.New("code is too large")
	// ErrSignature marks an authorization code whose signature does not
	// verify with any trusted manager key.
	ErrSignature = errors.New("signature does not verify with any trusted manager key")
	// ErrOtherUDI marks an authorization code made for another device.
	ErrOtherUDI = errors.New("code is for another device (UDI)")
	// ErrOtherRequest marks a code made for another request code.
	ErrOtherRequest = errors.New("code is for another reservation request")
	// ErrOlder marks an authorization code that is not newer than the one
	// installed: installing it would roll back or replay.
	ErrOlder = errors.New("code is not newer than the installed code")
	// ErrReturned marks a code, or a request, that was already returned.
	ErrReturned = errors.New("code was already returned")
	// ErrWrongConfirmation marks a confirmation code that the device did
	// not produce for this authorization code.
	ErrWrongConfirmation = errors.New("confirmation code does not match")
	// ErrWrongReturn marks a return code that the device did not produce
	// for this reservation.
	ErrWrongReturn = errors.New("return code does not match")
)

// Sentinels of the device's reservation state (State).
var (
	// ErrNoRequest marks a command that needs a request in progress.
	ErrNoRequest = errors.New("no reservation request is in progress")
	// ErrNotInstalled marks Return when no code is installed.
	ErrNotInstalled = errors.New("no authorization code is installed")
	// ErrInstalled marks a command refused because a code is installed.
	ErrInstalled = errors.New("an authorization code is installed")
	// ErrOtherKind marks a PLR code offered over an SLR reservation or
	// the other way round.
	ErrOtherKind = errors.New("code is of the other reservation kind")
	// ErrNotEnough marks a reservation the pool cannot give.
	ErrNotEnough = errors.New("not enough licenses available")
)
