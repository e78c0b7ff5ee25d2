package agentclient

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vxway/xapi"
)

// RegisterXAPI adds the `License Smart` configuration, commands and status
// to t; every handler talks to the agent through c.
func RegisterXAPI(t *xapi.Tree, c *Client) {
	x := &xapiHandlers{c: c}
	t.Handle(xapi.Configuration, "License Smart", x.config)
	t.Handle(xapi.Command, "License Smart", x.command)
	t.Handle(xapi.Status, "License Smart", x.status)
	t.Handle(xapi.Configuration, "Alternates", x.alternatesConfig)
	t.Handle(xapi.Status, "Alternates", x.alternatesStatus)
}

type xapiHandlers struct{ c *Client }

// configLeaf maps an xconfiguration path below License Smart plus the
// argument name to the agent's leaf name.
func configLeaf(rel []string, arg string) (string, bool) {
	switch {
	case xapi.PathIs(rel, "Transport") && strings.EqualFold(arg, "Mode"):
		return LeafMode, true
	case xapi.PathIs(rel, "Transport") && strings.EqualFold(arg, "URL"):
		return LeafURL, true
	case xapi.PathIs(rel, "Transport", "Proxy"):
		switch strings.ToLower(arg) {
		case "address":
			return LeafProxyAddress, true
		case "port":
			return LeafProxyPort, true
		case "username":
			return LeafProxyUsername, true
		case "password":
			return LeafProxyPassword, true
		}
	case xapi.PathIs(rel, "Privacy") && strings.EqualFold(arg, "HideHostname"):
		return LeafHideHostname, true
	}
	return "", false
}

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}

func (x *xapiHandlers) config(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(req.Args) == 1 {
		a := req.Args[0]
		if xapi.PathIs(rel) && strings.EqualFold(a.Name, "Enabled") {
			on, err := parseOnOff(a.Value)
			if err != nil {
				return err
			}
			if !on {
				return errors.New("smart licensing cannot be turned off once on; only a factory reset that drops brand and type does it")
			}
			return x.c.Enable(ctx)
		}
		if xapi.PathIs(rel) && strings.EqualFold(a.Name, "ReservationEnable") {
			on, err := parseOnOff(a.Value)
			if err != nil {
				return err
			}
			return x.c.SetReservationEnabled(ctx, on)
		}
		leaf, ok := configLeaf(rel, a.Name)
		if !ok {
			return fmt.Errorf("%w: xconfiguration License Smart %s %s; settings are Enabled, ReservationEnable, Transport Mode|URL, Transport Proxy Address|Port|Username|Password, Privacy HideHostname", xapi.ErrNotFound, strings.Join(rel, " "), a.Name)
		}
		_, err := x.c.SetConfig(ctx, leaf, a.Value)
		return err
	}
	cfg, err := x.c.Config(ctx)
	if err != nil {
		return err
	}
	st, err := x.c.Status(ctx)
	if err != nil {
		return err
	}
	port := ""
	if cfg.ProxyPort != 0 {
		port = strconv.Itoa(cfg.ProxyPort)
	}
	lines := []struct{ path, value string }{
		{"License Smart Enabled", onOff(st.Enabled)},
		{"License Smart Privacy HideHostname", onOff(cfg.HideHostname)},
		{"License Smart ReservationEnable", onOff(st.Reservation.Enabled)},
		{"License Smart Transport Mode", string(cfg.Mode)},
		{"License Smart Transport Proxy Address", cfg.ProxyAddress},
		{"License Smart Transport Proxy Password", cfg.ProxyPassword},
		{"License Smart Transport Proxy Port", port},
		{"License Smart Transport Proxy Username", cfg.ProxyUsername},
		{"License Smart Transport URL", cfg.URL},
	}
	prefix := strings.ToLower(strings.Join(req.Path, " "))
	shown := 0
	for _, l := range lines {
		if p := strings.ToLower(l.path); p == prefix || strings.HasPrefix(p, prefix+" ") {
			out.Config(l.path, l.value)
			shown++
		}
	}
	if shown == 0 {
		return fmt.Errorf("%w: xconfiguration %s", xapi.ErrNotFound, strings.Join(req.Path, " "))
	}
	return nil
}

func (x *xapiHandlers) command(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	// A token typed without quotes arrives as a path word.
	if len(rel) == 2 && strings.EqualFold(rel[0], "Register") {
		if _, named := req.Arg("Token"); !named && len(req.Positional()) == 0 {
			req.Args = append([]xapi.Arg{{Name: "Token", Value: rel[1]}}, req.Args...)
			rel = rel[:1]
		}
	}
	if len(rel) > 0 && strings.EqualFold(rel[0], "Reservation") {
		return x.reservation(ctx, req, rel[1:], out)
	}
	switch {
	case xapi.PathIs(rel, "Register"):
		tok, ok := req.Arg("Token")
		if !ok {
			if p := req.Positional(); len(p) == 1 {
				tok, ok = p[0], true
			}
		}
		if !ok {
			return fmt.Errorf("%w: Token: is missing; xcommand License Smart Register Token: \"<token>\" [Reregister: Yes]", ErrInvalidToken)
		}
		rereg := false
		if v, ok := req.Arg("Reregister"); ok {
			b, err := parseOnOff(v)
			if err != nil {
				return fmt.Errorf("%w: the value %q of Reregister: is not Yes or No", ErrInvalidConfig, v)
			}
			rereg = b
		}
		st, err := x.c.Register(ctx, tok, rereg)
		if err != nil {
			return err
		}
		out.Result("License Smart Register Status", st.Registration)
		return nil
	case xapi.PathIs(rel, "Deregister"):
		warn, err := x.c.Deregister(ctx)
		if err != nil {
			return err
		}
		if warn != "" {
			out.Result("License Smart Deregister Warning", warn)
		}
		out.Result("License Smart Deregister Status", "Deregistered")
		return nil
	case xapi.PathIs(rel, "RenewAuthorization"):
		st, err := x.c.RenewAuthorization(ctx)
		if err != nil {
			return err
		}
		out.Result("License Smart Authorization Status", st.Authorization)
		return nil
	case xapi.PathIs(rel, "RenewRegistration"):
		st, err := x.c.RenewRegistration(ctx)
		if err != nil {
			return err
		}
		out.Result("License Smart Registration Status", st.Registration)
		return nil
	case xapi.PathIs(rel, "UpdateUsage"):
		st, err := x.c.UpdateUsage(ctx)
		if err != nil {
			return err
		}
		out.Result("License Smart Authorization Status", st.Authorization)
		return nil
	case xapi.PathIs(rel, "Usage", "Set"):
		typ, ok1 := req.Arg("Type")
		n, ok2 := req.Arg("Count")
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: write xcommand License Smart Usage Set Type: rms|room|desktop Count: <n>", ErrInvalidConfig)
		}
		count, err := strconv.Atoi(n)
		if err != nil {
			return fmt.Errorf("%w: Count: %q is not a number", ErrInvalidConfig, n)
		}
		return x.c.SetUsage(ctx, typ, count)
	case xapi.PathIs(rel, "Sessions", "Set"):
		n, ok := req.Arg("Encrypted")
		if !ok {
			return fmt.Errorf("%w: write xcommand License Smart Sessions Set Encrypted: <n> [WebRTC: On|Off]", ErrInvalidConfig)
		}
		count, err := strconv.Atoi(n)
		if err != nil {
			return fmt.Errorf("%w: Encrypted: %q is not a number", ErrInvalidConfig, n)
		}
		webrtc := false
		if v, ok := req.Arg("WebRTC"); ok {
			if webrtc, err = parseOnOff(v); err != nil {
				return err
			}
		}
		st, err := x.c.SetSessions(ctx, count, webrtc)
		if err != nil {
			return err
		}
		writeExport(out, st)
		return nil
	}
	return fmt.Errorf("%w: xcommand License Smart %s; commands are Register, Deregister, RenewAuthorization, RenewRegistration, UpdateUsage, Usage Set, Sessions Set, Reservation Request|Install|Return|ReturnAuthorization|Cancel", xapi.ErrNotFound, strings.Join(rel, " "))
}

func writeExport(out *xapi.Writer, e ExportStatus) {
	p := "License Smart ExportControl "
	out.Result(p+"Limit", strconv.Itoa(e.Limit))
	out.Result(p+"Encrypted", strconv.Itoa(e.Encrypted))
	out.Result(p+"Accepting", yesNo(e.Accepting))
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (x *xapiHandlers) status(ctx context.Context, req *xapi.Request, rel []string, w *xapi.Writer) error {
	s, err := x.c.Status(ctx)
	if err != nil {
		return err
	}
	out := &statusLines{}
	p := "License Smart "
	enabled := "Off"
	if s.Enabled {
		enabled = "On"
	}
	out.Status(p+"Enabled", enabled)
	out.Status(p+"Dormant", yesNo(s.Dormant))
	out.Status(p+"Registration Status", s.Registration)
	out.Status(p+"Authorization Status", s.Authorization)
	out.Status(p+"SmartAccount", s.SmartAccount)
	out.Status(p+"VirtualAccount", s.VirtualAccount)
	out.Status(p+"ExportControlled", s.ExportControlled)
	out.Status(p+"InstanceId", s.InstanceID)
	out.Status(p+"Transport Mode", string(s.Transport))
	out.Status(p+"Evaluation Start", stamp(s.EvaluationStart))
	out.Status(p+"Evaluation Expires", stamp(s.EvaluationExpires))
	out.StatusInt(p+"Evaluation DaysLeft", int64(s.EvaluationDaysLeft))
	out.Status(p+"Registration Registered", stamp(s.RegisteredAt))
	out.Status(p+"Registration LastRenewal", stamp(s.RegistrationLast))
	out.Status(p+"Registration NextRenewal", stamp(s.RegistrationNext))
	out.Status(p+"Registration Expires", stamp(s.RegistrationExpires))
	out.Status(p+"Authorization LastRenewal", stamp(s.AuthorizationLast))
	out.Status(p+"Authorization NextRenewal", stamp(s.AuthorizationNext))
	out.Status(p+"Authorization Expires", stamp(s.AuthorizationExpires))
	out.Status(p+"Time Source", s.TimeSource)
	out.StatusInt(p+"Time Offset", int64(s.Skew/time.Second))
	out.Status(p+"FailureReason", s.FailureReason)
	out.Status(p+"Warning", s.Warning)
	out.Status(p+"Unauthorized", yesNo(s.Unauthorized))
	for i, u := range s.Usage {
		q := fmt.Sprintf("%sUsage %d ", p, i+1)
		out.Status(q+"Type", u.Name)
		out.StatusInt(q+"Count", int64(u.Count))
		out.StatusInt(q+"Peak", int64(u.Peak))
		out.StatusInt(q+"Real", int64(u.Real))
		out.StatusInt(q+"Simulated", int64(u.Simulated))
		out.Status(q+"Status", u.Status)
	}
	for i, l := range s.Licenses {
		q := fmt.Sprintf("%sLicense %d ", p, i+1)
		out.Status(q+"Type", l.Name)
		out.StatusInt(q+"Installed", int64(l.Installed))
		out.StatusInt(q+"InUse", int64(l.InUse))
		out.StatusInt(q+"Borrowed", int64(l.Borrowed))
		out.StatusInt(q+"Lent", int64(l.Lent))
	}
	out.StatusInt(p+"ExportControl Limit", int64(s.Export.Limit))
	out.StatusInt(p+"ExportControl Encrypted", int64(s.Export.Encrypted))
	out.StatusInt(p+"ExportControl Real", int64(s.Export.Real))
	out.StatusInt(p+"ExportControl Simulated", int64(s.Export.Simulated))
	out.Status(p+"ExportControl WebRTC", onOff(s.Export.WebRTC))
	out.Status(p+"ExportControl Accepting", yesNo(s.Export.Accepting))
	out.StatusInt(p+"ExportControl ReadmitBelow", int64(s.Export.ReadmitBelow))
	reservationStatus(out, s.Reservation)
	return out.flush(w, req.Path)
}

// statusLines collects status lines so that a request for part of the
// tree (xstatus License Smart Registration) shows only that part.
type statusLines struct {
	lines []statusLine
}

type statusLine struct {
	path, value string
	number      bool
	n           int64
}

func (s *statusLines) Status(path, value string) {
	s.lines = append(s.lines, statusLine{path: path, value: value})
}
func (s *statusLines) StatusInt(path string, n int64) {
	s.lines = append(s.lines, statusLine{path: path, number: true, n: n})
}

func (s *statusLines) flush(w *xapi.Writer, path []string) error {
	prefix := strings.ToLower(strings.Join(path, " "))
	shown := 0
	for _, l := range s.lines {
		p := strings.ToLower(l.path)
		if p != prefix && !strings.HasPrefix(p, prefix+" ") {
			continue
		}
		shown++
		if l.number {
			w.StatusInt(l.path, l.n)
		} else {
			w.Status(l.path, l.value)
		}
	}
	if shown == 0 {
		return fmt.Errorf("%w: xstatus %s", xapi.ErrNotFound, strings.Join(path, " "))
	}
	return nil
}
