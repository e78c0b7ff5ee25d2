package ssm

import (
	"context"
	"strconv"
	"testing"

	"vxway/licproto"
)

// registerInstances seeds the first of stores (see seed) and registers n
// instances U0, U1, ... with keys k0, k1, ... on a token of Default,
// through the stores in turn (managers sharing one database); each
// instance's request counter is then 1.
func registerInstances(t *testing.T, n int, stores ...*Store) {
	t.Helper()
	ctx := context.Background()
	seed(t, stores[0])
	tok, _, err := stores[0].CreateToken(ctx, "Default", TokenOptions{ExportControlled: true}, t0)
	must(t, err)
	for i := range n {
		s := stores[i%len(stores)]
		_, err := s.Register(ctx, &Registration{Token: tok, UDI: "U" + strconv.Itoa(i), PublicKey: "k" + strconv.Itoa(i), CertSerial: "1", CertNotAfter: t0.AddDate(1, 0, 0), Seq: 1}, t0)
		must(t, err)
	}
}

// authorizations returns n operations, the i-th asking through the
// stores in turn for usage for instance Ui of registerInstances (request
// counter 2), for the caller to run at once; and authorized, which waits
// for the n verdicts and counts those authorized (a failed operation is
// an error of the test).
func authorizations(t *testing.T, n int, usage map[licproto.LicenseType]int, stores ...*Store) (ops []func(), authorized func() int) {
	ctx := context.Background()
	states := make(chan licproto.LicenseState, n)
	ops = make([]func(), n)
	for i := range ops {
		s := stores[i%len(stores)]
		ops[i] = func() {
			res, err := s.Authorize(ctx, "U"+strconv.Itoa(i), "k"+strconv.Itoa(i), 2, usage, t0)
			if err != nil {
				t.Error(err)
				states <- ""
				return
			}
			states <- res.State
		}
	}
	return ops, func() int {
		count := 0
		for range n {
			if <-states == licproto.StateAuthorized {
				count++
			}
		}
		return count
	}
}
