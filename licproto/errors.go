package licproto

import "fmt"

// Code names why a request was refused. Codes travel in answers.
type Code string

// Error codes.
const (
	CodeBadRequest        Code = "bad_request"
	CodeTooLarge          Code = "too_large"
	CodeBadSignature      Code = "bad_signature"
	CodeReplay            Code = "replay"
	CodeStaleTimestamp    Code = "stale_timestamp"
	CodeNotRegistered     Code = "not_registered"
	CodeAlreadyRegistered Code = "already_registered"
	CodeUnknownToken      Code = "unknown_token"
	CodeTokenExpired      Code = "token_expired"
	CodeTokenUsedUp       Code = "token_used_up"
	CodeTokenRevoked      Code = "token_revoked"
	CodeInternal          Code = "internal"
	// CodeBusy: the manager is at one of its limits; try again later.
	CodeBusy Code = "busy"
)

// Error is a refusal with its code. It is the error type on both sides of
// the wire: the manager puts it in the answer, Client returns it.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// LastSeq, in a replay refusal of a request that carried a counter,
	// is the highest counter the manager has accepted from the key that
	// signed it: a device that lost its count (a state file restored or
	// set aside, a crash before it was saved) continues above it.
	LastSeq int64 `json:"last_seq,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// Is matches errors with the same code, so errors.Is(err, ErrTokenExpired)
// holds for any token_expired error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// HTTPStatus is the HTTP status the manager answers an error with.
func (e *Error) HTTPStatus() int {
	switch e.Code {
	case CodeBadRequest:
		return 400
	case CodeTooLarge:
		return 413
	case CodeBadSignature:
		return 401
	case CodeReplay, CodeStaleTimestamp, CodeAlreadyRegistered:
		return 409
	case CodeNotRegistered, CodeUnknownToken:
		return 404
	case CodeTokenExpired, CodeTokenUsedUp, CodeTokenRevoked:
		return 403
	case CodeBusy:
		return 503
	}
	return 500
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error { return errorf(code, format, args...) }

// Sentinels for errors.Is; they match any *Error with the same code.
var (
	ErrBadRequest        = &Error{Code: CodeBadRequest}
	ErrTooLarge          = &Error{Code: CodeTooLarge}
	ErrBadSignature      = &Error{Code: CodeBadSignature}
	ErrReplay            = &Error{Code: CodeReplay}
	ErrStaleTimestamp    = &Error{Code: CodeStaleTimestamp}
	ErrNotRegistered     = &Error{Code: CodeNotRegistered}
	ErrAlreadyRegistered = &Error{Code: CodeAlreadyRegistered}
	ErrUnknownToken      = &Error{Code: CodeUnknownToken}
	ErrTokenExpired      = &Error{Code: CodeTokenExpired}
	ErrTokenUsedUp       = &Error{Code: CodeTokenUsedUp}
	ErrTokenRevoked      = &Error{Code: CodeTokenRevoked}
	ErrInternal          = &Error{Code: CodeInternal}
	ErrBusy              = &Error{Code: CodeBusy}
)

// Answer verification errors, on the device side. They never come from the
// manager; they say the answer could not be trusted.
var (
	// ErrUntrustedAnswer: the answer signature or chain does not verify
	// against the pinned manager CAs.
	ErrUntrustedAnswer = fmt.Errorf("manager answer is not signed by a trusted manager")
	// ErrAnswerMismatch: the answer is not bound to this request (nonce,
	// type or UDI differ): a replayed or misrouted answer.
	ErrAnswerMismatch = fmt.Errorf("manager answer does not belong to this request")
	// ErrMalformedAnswer: the body is not a signed answer.
	ErrMalformedAnswer = fmt.Errorf("manager answer is malformed")
)
