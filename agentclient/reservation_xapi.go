package agentclient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"vxway/reservation"
	"vxway/xapi"
)

// The vendor document's sentences around a reservation code, printed as
// the Message (or Status) line of the answer just before the code's own
// line, so an administrator sees the words the guide shows and a script
// still reads the code from its field.
const (
	MsgRequestCode      = "Enter the following reservation request code into the CSSM:"
	MsgInstalled        = "Authorization code installed."
	MsgConfirmationCode = "Please enter the confirmation code to CSSM account:"
	MsgReturnCode       = "Enter the following return code into the CSSM:"
)

// reservation serves xcommand License Smart Reservation <rel...>.
func (x *xapiHandlers) reservation(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	const p = "License Smart Reservation "
	if len(rel) == 0 {
		return fmt.Errorf("%w: xcommand License Smart Reservation needs a command: Request, Install \"<code>\", Return, ReturnAuthorization \"<code>\" or Cancel", xapi.ErrNotFound)
	}
	cmd, extra := rel[0], rel[1:]
	noArgs := func() error {
		if len(extra) > 0 || len(req.Args) > 0 {
			return fmt.Errorf("%w: xcommand License Smart Reservation %s takes no arguments", xapi.ErrSyntax, cmd)
		}
		return nil
	}
	switch {
	case strings.EqualFold(cmd, "Request"):
		if err := noArgs(); err != nil {
			return err
		}
		r, err := x.c.ReservationRequest(ctx)
		if err != nil {
			return err
		}
		out.Result(p+"Message", MsgRequestCode)
		out.Result(p+"RequestCode", r.RequestCode)
		return nil
	case strings.EqualFold(cmd, "Install"):
		code, err := codeArg(req, extra, "Install")
		if err != nil {
			return err
		}
		r, err := x.c.ReservationInstall(ctx, code)
		if err != nil {
			return err
		}
		out.Result(p+"Status", MsgInstalled)
		out.Result(p+"Kind", r.Kind)
		out.Result(p+"ExportControl", allowed(r.ExportControl))
		if r.Updated {
			out.Result(p+"Updated", "Yes")
		}
		if r.Confirmation != "" {
			out.Result(p+"Message", MsgConfirmationCode)
			out.Result(p+"ConfirmationCode", r.Confirmation)
		}
		return nil
	case strings.EqualFold(cmd, "Return"):
		if err := noArgs(); err != nil {
			return err
		}
		r, err := x.c.ReservationReturn(ctx)
		if err != nil {
			return err
		}
		out.Result(p+"Message", MsgReturnCode)
		out.Result(p+"ReturnCode", r.ReturnCode)
		return nil
	case strings.EqualFold(cmd, "ReturnAuthorization"):
		code, err := codeArg(req, extra, "ReturnAuthorization")
		if err != nil {
			return err
		}
		r, err := x.c.ReservationReturnAuthorization(ctx, code)
		if err != nil {
			return err
		}
		out.Result(p+"Message", MsgReturnCode)
		out.Result(p+"ReturnCode", r.ReturnCode)
		return nil
	case strings.EqualFold(cmd, "Cancel"):
		if err := noArgs(); err != nil {
			return err
		}
		if err := x.c.ReservationCancel(ctx); err != nil {
			return err
		}
		out.Result(p+"Status", "Request cancelled")
		return nil
	}
	return fmt.Errorf("%w: xcommand License Smart Reservation %s; commands are Request, Install \"<code>\", Return, ReturnAuthorization \"<code>\", Cancel", xapi.ErrNotFound, strings.Join(rel, " "))
}

// codeArg finds the authorization code of Install or ReturnAuthorization:
// one value in double quotes, a compact PLR code typed without them
// (which the parser takes for a path word), or Code: "<code>". A code
// that arrived as several words (an SLR code pasted without quotes) is
// refused.
func codeArg(req *xapi.Request, extra []string, cmd string) (string, error) {
	if len(extra) == 0 && len(req.Args) == 1 && strings.EqualFold(req.Args[0].Name, "Code") {
		return req.Args[0].Value, nil
	}
	words := append([]string(nil), extra...)
	for _, a := range req.Args {
		if a.Name != "" {
			words = append(words, a.Name+":", a.Value)
			continue
		}
		words = append(words, a.Value)
	}
	switch len(words) {
	case 0:
		return "", fmt.Errorf("%w: the authorization code is missing; write xcommand License Smart Reservation %s \"<code>\"", reservation.ErrMalformed, cmd)
	case 1:
		return words[0], nil
	}
	return "", fmt.Errorf("%w: the code arrived as %d separate words; put the code in double quotes: xcommand License Smart Reservation %s \"<code>\"", reservation.ErrMalformed, len(words), cmd)
}

func allowed(b bool) string {
	if b {
		return "Allowed"
	}
	return "Not Allowed"
}

// reservationStatus adds the License Smart Reservation status lines.
func reservationStatus(out *statusLines, r ReservationStatus) {
	const p = "License Smart Reservation "
	out.Status(p+"Mode", onOff(r.Enabled))
	out.Status(p+"Status", r.Status)
	if !r.Enabled {
		return
	}
	out.Status(p+"Kind", r.Kind)
	out.Status(p+"ExportControl", r.ExportControl)
	out.Status(p+"InstanceId", r.InstanceID)
	out.Status(p+"RequestCode", r.RequestCode)
	out.Status(p+"Issued", stamp(r.Issued))
	out.Status(p+"JudgedAt", stamp(r.JudgedAt))
	out.Status(p+"Error", r.Error)
	for i, l := range r.Licenses {
		q := fmt.Sprintf("%sLicense %d ", p, i+1)
		out.Status(q+"Type", l.Type)
		out.Status(q+"Name", l.Name)
		out.StatusInt(q+"Count", int64(l.Count))
		out.Status(q+"LicenseType", l.Validity)
		out.Status(q+"StartDate", dateOf(l.Start))
		out.Status(q+"EndDate", dateOf(l.End))
		out.Status(q+"Status", l.Status)
	}
}

// dateOf is a reserved license's date, as the manager writes it.
func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}
