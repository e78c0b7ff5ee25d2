package portal

import (
	"errors"
	"net/http"
	"time"

	"vxway/ssm"
	"vxway/websession"
)

type loginData struct {
	Token string
}

// loginPage shows the sign-in form with a fresh form token.
func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := p.session(r); ok {
		websession.SeeOther(w, r, "/portal/")
		return
	}
	p.showLogin(w, r, http.StatusOK, "", "")
}

func (p *Portal) showLogin(w http.ResponseWriter, r *http.Request, status int, user, problem string) {
	tok := websession.FormCookie(w, loginCookie, "/portal/login")
	v := &view{Title: "Sign in", Data: loginData{Token: tok}, Form: map[string]string{FieldUsername: user}}
	if problem != "" {
		v.Errors = map[string]string{"": problem}
	}
	p.render(w, r, nil, nil, "login", status, v)
}

// loginPost signs in with the form's token from the same site, never
// while the account or the source address is locked. Failures are
// answered slowly and logged; the password is never logged.
func (p *Portal) loginPost(w http.ResponseWriter, r *http.Request) {
	if !websession.SignInForm(w, r, loginCookie) {
		return
	}
	// user is what the lockout, the log and the form shown again use:
	// at most a user name's length. The name as typed is what signs in:
	// Authenticate refuses a longer one unhashed.
	name, password := r.PostFormValue(FieldUsername), r.PostFormValue(FieldPassword)
	user := name
	if len(user) > ssm.MaxNameLen {
		user = user[:ssm.MaxNameLen]
	}
	src := websession.Source(r)
	keys := []string{websession.AccountKey(user), websession.SourceKey(src)}
	until, ok := p.lockout.Begin(keys...)
	if !ok {
		if until.IsZero() {
			p.log.Warn("portal sign-in refused: other sign-ins under way", "user", websession.LogQuote(user), "from", src)
			p.showLogin(w, r, http.StatusTooManyRequests, user, websession.BusyText)
			return
		}
		p.log.Warn("portal sign-in refused: locked", "user", websession.LogQuote(user), "from", src, "until", until.UTC().Format(time.RFC3339))
		p.showLogin(w, r, http.StatusTooManyRequests, user, websession.LockedText(until.Sub(p.clock.Now())))
		return
	}
	defer p.lockout.End(keys...)
	u, err := p.store.Authenticate(r.Context(), name, password)
	if err != nil {
		if !errors.Is(err, ssm.ErrBadCredentials) {
			p.log.Error("portal sign-in: checking the password", "user", websession.LogQuote(user), "err", err)
			p.showLogin(w, r, http.StatusInternalServerError, user, "The password could not be checked; try again later.")
			return
		}
		n, until := p.lockout.Fail(keys...)
		if !until.IsZero() {
			p.log.Warn("portal sign-in failed; locked", "user", websession.LogQuote(user), "from", src, "failures", p.lockout.Policy().MaxFailures, "until", until.UTC().Format(time.RFC3339))
		} else {
			p.log.Warn("portal sign-in failed", "user", websession.LogQuote(user), "from", src, "failures", n)
		}
		p.showLogin(w, r, http.StatusUnauthorized, user, p.lockout.Refuse(n, until, p.sleep))
		return
	}
	// The address's failures stay: five within the window lock it,
	// whoever signs in from it meanwhile.
	p.lockout.Succeed(websession.AccountKey(user))
	x := p.sessions.Create(u.Name, u.Stamp)
	p.setSessionCookie(w, x)
	p.log.Info("portal sign-in", "user", websession.LogQuote(u.Name), "role", string(u.Role), "from", src)
	if u.MustChange {
		p.sessions.AddFlash(x, websession.Flash{Text: "You signed in with a one-time password: choose your own password to go on."})
		websession.SeeOther(w, r, "/portal/password")
		return
	}
	websession.SeeOther(w, r, "/portal/")
}

func (p *Portal) setSessionCookie(w http.ResponseWriter, x *websession.Session) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: x.ID, Path: "/portal/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// logout ends the session (a form with the CSRF token, so that another
// site cannot sign the user out).
func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	x, _, ok := p.session(r)
	if !ok {
		websession.SeeOther(w, r, "/portal/login")
		return
	}
	if err := r.ParseForm(); err != nil || !websession.CheckPost(r, x.CSRF) {
		http.Error(w, "Forbidden: the form's security token is missing or wrong, or it came from another site.", http.StatusForbidden)
		return
	}
	p.sessions.Drop(x.ID)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/portal/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	p.log.Info("portal sign-out", "user", websession.LogQuote(x.User))
	websession.SeeOther(w, r, "/portal/login")
}

// Fields of the password form.
const (
	fieldCurrent = "current"
	fieldNew     = "new"
	fieldConfirm = "confirm"
)

func (p *Portal) passwordPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	p.render(w, r, x, u, "password", http.StatusOK, &view{Title: "Change password"})
}

// passwordPost changes the user's password: the current one is checked
// (a wrong one counts as a failed sign-in); every other session of the
// user ends.
func (p *Portal) passwordPost(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	refuse := func(st int, field, msg string) {
		p.render(w, r, x, u, "password", st, &view{Title: "Change password", Errors: map[string]string{field: msg}})
	}
	keys := []string{websession.AccountKey(u.Name), websession.SourceKey(websession.Source(r))}
	until, ok := p.lockout.Begin(keys...)
	if !ok {
		text := websession.BusyText
		if !until.IsZero() {
			text = websession.LockedText(until.Sub(p.clock.Now()))
		}
		refuse(http.StatusTooManyRequests, "", text)
		return
	}
	defer p.lockout.End(keys...)
	cur, next := r.PostFormValue(fieldCurrent), r.PostFormValue(fieldNew)
	if next != r.PostFormValue(fieldConfirm) {
		refuse(http.StatusBadRequest, fieldConfirm, "The two new passwords differ; type the same password twice.")
		return
	}
	if err := ssm.CheckPasswordRule(next); err != nil {
		refuse(http.StatusBadRequest, fieldNew, err.Error())
		return
	}
	nu, err := p.store.ChangePassword(r.Context(), u.Name, cur, next, p.clock.Now())
	if errors.Is(err, ssm.ErrBadCredentials) {
		n, _ := p.lockout.Fail(keys...)
		p.log.Warn("portal password change: wrong current password", "user", websession.LogQuote(u.Name), "from", websession.Source(r), "failures", n)
		refuse(http.StatusBadRequest, fieldCurrent, "The current password is wrong.")
		return
	}
	if err != nil {
		refuse(status(err), fieldNew, p.refusal(r, err))
		return
	}
	p.sessions.DropUser(u.Name)
	nx := p.sessions.Create(nu.Name, nu.Stamp)
	p.setSessionCookie(w, nx)
	p.log.Info("portal password changed", "user", websession.LogQuote(u.Name))
	p.sessions.AddFlash(nx, websession.Flash{Text: "Password changed. Other sessions of " + u.Name + " have ended."})
	websession.SeeOther(w, r, "/portal/")
}
