package webui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vxway/agentclient"
	"vxway/websession"
)

const licensingPath = "/maintenance/smart-licensing"

// Form fields of the Smart licensing page.
const (
	fieldMode          = "mode"
	fieldURL           = "url"
	fieldProxyAddress  = "proxy_address"
	fieldProxyPort     = "proxy_port"
	fieldProxyUsername = "proxy_username"
	fieldProxyPassword = "proxy_password"
	fieldHideHostname  = "hide_hostname"
	fieldToken         = "token"
	fieldReregister    = "reregister"
	fieldOperation     = "operation"
	fieldCode          = "code"
	fieldReturnCode    = "return_code"
)

// maxToken and maxCode bound what the token and code fields take before
// they reach the agent (which checks them again).
const (
	maxToken = 1024
	maxCode  = 128 << 10
)

type licensingData struct {
	Status     agentclient.Status
	Config     agentclient.Config
	Registered bool
	// Reserved: a reservation is installed; Pending: a request waits for
	// its authorization code.
	Reserved bool
	Pending  bool
	// RegisterLabel is Register, or Reregister once registered, as the
	// vendor document says.
	RegisterLabel string
	// FailureText is the failure reason in the vendor document's wording.
	FailureText string
	Usage       []agentclient.UsageLine
	// Problem says why the agent's status is missing.
	Problem string
}

func (s *Server) licensingPage(w http.ResponseWriter, r *http.Request, x *session) {
	s.showLicensing(w, r, x, http.StatusOK, nil, nil)
}

func (s *Server) showLicensing(w http.ResponseWriter, r *http.Request, x *session, status int, errs, form map[string]string) {
	d := licensingData{RegisterLabel: "Register"}
	st, err := s.lic.Status(r.Context())
	if err != nil {
		d.Problem = err.Error()
	} else {
		d.Status = st
		d.Registered = st.Registration == agentclient.RegRegistered
		d.Reserved = st.Reservation.Status == agentclient.ResReserved || st.Reservation.Status == agentclient.ResError
		d.Pending = st.Reservation.Pending || st.Reservation.Status == agentclient.ResRequested
		if d.Registered {
			d.RegisterLabel = "Reregister"
		}
		d.FailureText = st.FailureReason
		for _, u := range st.Usage {
			if u.Count > 0 {
				d.Usage = append(d.Usage, u)
			}
		}
	}
	if cfg, err := s.lic.Config(r.Context()); err == nil {
		d.Config = cfg.Redacted()
	} else if d.Problem == "" {
		d.Problem = err.Error()
	}
	s.render(w, r, x, "licensing", status, &view{Title: "Smart licensing", Section: "Maintenance", Data: d, Errors: errs, Form: form})
}

// licensingWriteTimeout is how long the answer to a Smart licensing form
// may take: registering or renewing waits for the manager, up to the
// agent's 30 s exchange timeout, longer than the server's WriteTimeout
// allows a stranger. Only a signed-in administrator with a valid token
// gets here.
const licensingWriteTimeout = 150 * time.Second

// licensingPost runs one of the page's forms, named by its action, with
// the calls the xAPI's License Smart handlers make.
func (s *Server) licensingPost(w http.ResponseWriter, r *http.Request, x *session) {
	ctx := r.Context()
	// The deadline is the connection's, so it is set on the real clock.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(licensingWriteTimeout))
	done := func(text string, code string) {
		s.sessions.AddFlash(x, flash{Text: text, Code: code})
		websession.SeeOther(w, r, licensingPath)
	}
	refuse := func(field string, err error, form map[string]string) {
		s.showLicensing(w, r, x, http.StatusBadRequest, map[string]string{field: err.Error()}, form)
	}
	switch action := r.PostFormValue("action"); action {
	case "enable":
		if err := s.lic.Enable(ctx); err != nil {
			refuse("enable", err, nil)
			return
		}
		done("Smart Licensing is on.", "")
	case "save":
		s.saveTransport(w, r, x)
	case "register":
		tok := strings.TrimSpace(r.PostFormValue(fieldToken))
		rereg := r.PostFormValue(fieldReregister) == "on"
		form := map[string]string{fieldReregister: r.PostFormValue(fieldReregister)}
		if len(tok) > maxToken {
			refuse(fieldToken, errors.New("invalid registration token: it is longer than any token the manager makes; copy it again"), form)
			return
		}
		st, err := s.lic.Register(ctx, tok, rereg)
		if err != nil {
			refuse(fieldToken, err, form)
			return
		}
		done("Registration status: "+st.Registration+".", "")
	case "operation":
		var err error
		var text string
		switch r.PostFormValue(fieldOperation) {
		case "renew-authorization":
			var st agentclient.Status
			st, err = s.lic.RenewAuthorization(ctx)
			text = "Authorization renewed: " + st.Authorization + "."
		case "renew-registration":
			var st agentclient.Status
			st, err = s.lic.RenewRegistration(ctx)
			text = "Registration renewed: " + st.Registration + "."
		case "deregister":
			var warn string
			warn, err = s.lic.Deregister(ctx)
			text = "Deregistered."
			if warn != "" {
				text += " " + warn
			}
		default:
			err = errors.New("choose an operation: Renew authorization now, Renew registration now or Deregister")
		}
		if err != nil {
			refuse(fieldOperation, err, nil)
			return
		}
		done(text, "")
	case "update-usage":
		st, err := s.lic.UpdateUsage(ctx)
		if err != nil {
			refuse("usage", err, nil)
			return
		}
		done("Usage details updated: "+st.Authorization+".", "")
	case "reservation-enable", "reservation-disable":
		on := action == "reservation-enable"
		if err := s.lic.SetReservationEnabled(ctx, on); err != nil {
			refuse("reservation", err, nil)
			return
		}
		if on {
			done("License reservation is on.", "")
		} else {
			done("License reservation is off.", "")
		}
	case "reservation-request":
		res, err := s.lic.ReservationRequest(ctx)
		if err != nil {
			refuse("reservation", err, nil)
			return
		}
		done(agentclient.MsgRequestCode, res.RequestCode)
	case "reservation-install":
		code := strings.TrimSpace(r.PostFormValue(fieldCode))
		form := map[string]string{fieldCode: code}
		if len(code) > maxCode {
			refuse(fieldCode, errors.New("the authorization code is longer than any code the manager makes; copy it again"), nil)
			return
		}
		res, err := s.lic.ReservationInstall(ctx, code)
		if err != nil {
			refuse(fieldCode, err, form)
			return
		}
		text := agentclient.MsgInstalled + " " + res.Kind + ", export-controlled functionality " + allowedText(res.ExportControl) + "."
		if res.Confirmation != "" {
			s.sessions.AddFlash(x, flash{Text: text})
			done(agentclient.MsgConfirmationCode, res.Confirmation)
			return
		}
		done(text, "")
	case "reservation-cancel":
		if err := s.lic.ReservationCancel(ctx); err != nil {
			refuse("reservation", err, nil)
			return
		}
		done("Reservation request cancelled.", "")
	case "reservation-return":
		res, err := s.lic.ReservationReturn(ctx)
		if err != nil {
			refuse("reservation", err, nil)
			return
		}
		done(agentclient.MsgReturnCode, res.ReturnCode)
	case "reservation-return-authorization":
		code := strings.TrimSpace(r.PostFormValue(fieldReturnCode))
		form := map[string]string{fieldReturnCode: code}
		if len(code) > maxCode {
			refuse(fieldReturnCode, errors.New("the authorization code is longer than any code the manager makes; copy it again"), nil)
			return
		}
		res, err := s.lic.ReservationReturnAuthorization(ctx, code)
		if err != nil {
			refuse(fieldReturnCode, err, form)
			return
		}
		done(agentclient.MsgReturnCode, res.ReturnCode)
	default:
		http.Error(w, "Bad request: unknown action "+strconv.Quote(action), http.StatusBadRequest)
	}
}

func allowedText(b bool) string {
	if b {
		return "allowed"
	}
	return "not allowed"
}

// transportFields are the transport settings in the order they are set,
// with the agent's leaf for each.
var transportFields = []struct{ field, leaf string }{
	{fieldMode, agentclient.LeafMode},
	{fieldURL, agentclient.LeafURL},
	{fieldProxyAddress, agentclient.LeafProxyAddress},
	{fieldProxyPort, agentclient.LeafProxyPort},
	{fieldProxyUsername, agentclient.LeafProxyUsername},
	{fieldProxyPassword, agentclient.LeafProxyPassword},
	{fieldHideHostname, agentclient.LeafHideHostname},
}

// saveTransport saves the transport settings and the privacy flag: every
// changed value is checked first with the rules the agent applies
// (agentclient.Config.Apply), and only when all pass are they sent, one
// leaf at a time as xconfiguration License Smart does. A refused form
// changes nothing and shows each problem at its field.
func (s *Server) saveTransport(w http.ResponseWriter, r *http.Request, x *session) {
	ctx := r.Context()
	form := map[string]string{}
	for _, f := range transportFields {
		if f.field != fieldProxyPassword {
			form[f.field] = r.PostFormValue(f.field)
		}
	}
	cur, err := s.lic.Config(ctx)
	if err != nil {
		s.showLicensing(w, r, x, http.StatusServiceUnavailable, map[string]string{"save": err.Error()}, form)
		return
	}
	st, err := s.lic.Status(ctx)
	if err != nil {
		s.showLicensing(w, r, x, http.StatusServiceUnavailable, map[string]string{"save": err.Error()}, form)
		return
	}
	registered := st.Registration == agentclient.RegRegistered
	port := ""
	if cur.ProxyPort != 0 {
		port = strconv.Itoa(cur.ProxyPort)
	}
	current := map[string]string{
		fieldMode: string(cur.Mode), fieldURL: cur.URL, fieldProxyAddress: cur.ProxyAddress,
		fieldProxyPort: port, fieldProxyUsername: cur.ProxyUsername, fieldHideHostname: onOff(cur.HideHostname),
	}
	type change struct{ field, leaf, value string }
	var changes []change
	errs := map[string]string{}
	next := cur
	for _, f := range transportFields {
		v := r.PostFormValue(f.field)
		switch f.field {
		case fieldHideHostname:
			v = onOff(v == "on")
		case fieldProxyPassword:
			// The password is never shown; an empty field keeps it.
			if v == "" {
				continue
			}
		}
		if f.field != fieldProxyPassword && v == current[f.field] {
			continue
		}
		n, err := next.Apply(f.leaf, v, registered)
		if err != nil {
			errs[f.field] = err.Error()
			continue
		}
		next = n
		changes = append(changes, change{f.field, f.leaf, v})
	}
	if len(errs) > 0 {
		s.showLicensing(w, r, x, http.StatusBadRequest, errs, form)
		return
	}
	for i, c := range changes {
		if _, err := s.lic.SetConfig(ctx, c.leaf, c.value); err != nil {
			if i > 0 {
				err = errors.New(err.Error() + " (the settings above it were saved)")
			}
			s.showLicensing(w, r, x, http.StatusBadRequest, map[string]string{c.field: err.Error()}, form)
			return
		}
	}
	if len(changes) == 0 {
		s.sessions.AddFlash(x, flash{Text: "Nothing changed."})
	} else {
		s.sessions.AddFlash(x, flash{Text: "Smart licensing settings saved."})
	}
	websession.SeeOther(w, r, licensingPath)
}

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}
