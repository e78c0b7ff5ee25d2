package agentclient

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"vxway/reservation"
)

// TestErrorsCrossTheSocket: an error the agent answers with comes back to
// the client as the same sentinel (or refusal), with the agent's text.
func TestErrorsCrossTheSocket(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		is     error
	}{
		{"pending", fmt.Errorf("%w: the manager could not be reached", ErrPending), http.StatusAccepted, ErrPending},
		{"invalid token", fmt.Errorf("%w: the token is empty", ErrInvalidToken), http.StatusBadRequest, ErrInvalidToken},
		{"registered", fmt.Errorf("%w already", ErrRegistered), http.StatusConflict, ErrRegistered},
		{"reservation code", fmt.Errorf("installing: %w", reservation.ErrSignature), http.StatusBadRequest, reservation.ErrSignature},
		{"other", errors.New("disk full"), http.StatusBadGateway, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, status := AnswerFor(tc.err)
			if status != tc.status || ans.Error != tc.err.Error() {
				t.Errorf("AnswerFor = %+v, %d; want status %d", ans, status, tc.status)
			}
			back := errorOf(ans)
			if back.Error() != tc.err.Error() {
				t.Errorf("client error %q, want %q", back, tc.err)
			}
			if tc.is != nil && !errors.Is(back, tc.is) {
				t.Errorf("client error %v is not %v", back, tc.is)
			}
		})
	}
	t.Run("refused by the manager", func(t *testing.T) {
		ans, status := AnswerFor(fmt.Errorf("registration failed: %w", &Rejected{Reason: "the token has expired"}))
		var r *Rejected
		if status != http.StatusBadGateway || ans.Code != CodeRejected || !errors.As(errorOf(ans), &r) {
			t.Errorf("AnswerFor = %+v, %d; client error %v", ans, status, errorOf(ans))
		}
	})
}
