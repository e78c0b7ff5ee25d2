package webui

import (
	"errors"
	"net/http"
	"slices"
	"time"
	"vxway/websession"
)

// The sign-in form's fields (fixed: scripts and tests rely on them).
const (
	FieldUsername = "username"
	FieldPassword = "password"
)

// maxUsername bounds the user name typed at sign-in.
const maxUsername = 64

type loginData struct {
	Token string
}

// loginPage shows the sign-in form with a fresh form token.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.session(r); ok {
		websession.SeeOther(w, r, "/status/overview")
		return
	}
	s.showLogin(w, r, http.StatusOK, "", "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, user, problem string) {
	tok := websession.FormCookie(w, loginCookie, "/login")
	v := &view{Title: "Sign in", Data: loginData{Token: tok}, Form: map[string]string{FieldUsername: user}}
	if problem != "" {
		v.Errors = map[string]string{"": problem}
	}
	s.render(w, r, nil, "login", status, v)
}

// loginPost signs in: only the admin accounts, with the form's token from
// the same site, never while the account or the source address is locked.
// Failures are answered slowly and recorded in the event log.
func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	if !websession.SignInForm(w, r, loginCookie) {
		return
	}
	user, password := r.PostFormValue(FieldUsername), r.PostFormValue(FieldPassword)
	if len(user) > maxUsername {
		user = user[:maxUsername]
	}
	src := websession.Source(r)
	keys := []string{websession.AccountKey(user), websession.SourceKey(src)}
	until, ok := s.lockout.Begin(keys...)
	if !ok {
		if until.IsZero() {
			s.event("sign-in of %s from %s refused: other sign-ins under way", websession.LogQuote(user), src)
			s.showLogin(w, r, http.StatusTooManyRequests, user, websession.BusyText)
			return
		}
		s.event("sign-in of %s from %s refused: locked until %s", websession.LogQuote(user), src, until.UTC().Format(time.RFC3339))
		s.showLogin(w, r, http.StatusTooManyRequests, user, websession.LockedText(until.Sub(s.clock.Now())))
		return
	}
	defer s.lockout.End(keys...)
	err := s.authenticate(user, password)
	if err != nil {
		n, until := s.lockout.Fail(keys...)
		if !until.IsZero() {
			s.event("sign-in of %s from %s failed (%v); %d failures: locked until %s", websession.LogQuote(user), src, err, s.lockout.Policy().MaxFailures, until.UTC().Format(time.RFC3339))
		} else {
			s.event("sign-in of %s from %s failed (%v); %d failures in a row", websession.LogQuote(user), src, err, n)
		}
		s.showLogin(w, r, http.StatusUnauthorized, user, s.lockout.Refuse(n, until, s.sleep))
		return
	}
	// The address's failures stay: five within the window lock it,
	// whoever signs in from it meanwhile.
	s.lockout.Succeed(websession.AccountKey(user))
	stamp, err := s.users.PasswordStamp(user)
	if err != nil {
		s.showLogin(w, r, http.StatusInternalServerError, user, "The password store cannot be read: "+err.Error())
		return
	}
	x := s.sessions.Create(user, stamp)
	s.setSessionCookie(w, x)
	s.event("%s signed in from %s", websession.LogQuote(user), src)
	websession.SeeOther(w, r, "/status/overview")
}

// errNotAdmin refuses accounts that are not web administrators.
var errNotAdmin = errors.New("not a web administration account")

func (s *Server) authenticate(user, password string) error {
	if !slices.Contains(Admins, user) {
		// The password is not checked: root's or another account's
		// password is never tested from the web.
		return errNotAdmin
	}
	return s.users.Check(user, password)
}

func (s *Server) setSessionCookie(w http.ResponseWriter, x *session) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: x.ID, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// logout ends the session (a form with the CSRF token, so that another
// site cannot sign the administrator out).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	x, ok := s.session(r)
	if !ok {
		websession.SeeOther(w, r, "/login")
		return
	}
	if err := r.ParseForm(); err != nil || !websession.CheckPost(r, x.CSRF) {
		http.Error(w, "Forbidden: the form's security token is missing or wrong, or it came from another site.", http.StatusForbidden)
		return
	}
	s.sessions.Drop(x.ID)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	s.event("%s signed out", websession.LogQuote(x.User))
	websession.SeeOther(w, r, "/login")
}

// passwordChanged ends every session of user and starts a new one for the
// browser that changed it.
func (s *Server) passwordChanged(w http.ResponseWriter, x *session) (*session, error) {
	s.sessions.DropUser(x.User)
	stamp, err := s.users.PasswordStamp(x.User)
	if err != nil {
		return nil, err
	}
	nx := s.sessions.Create(x.User, stamp)
	s.setSessionCookie(w, nx)
	return nx, nil
}
