package webui

import (
	"errors"
	"net/http"

	"vxway/platform"
	"vxway/websession"
)

// Fields of the password form.
const (
	fieldCurrent = "current"
	fieldNew     = "new"
	fieldConfirm = "confirm"
)

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, x *session) {
	s.render(w, r, x, "password", http.StatusOK, &view{Title: "Change password", Section: "Users"})
}

// passwordPost changes the signed-in administrator's password with
// platform.Users.SetPassword, as passwd does, after checking the current
// one (a wrong one counts as a failed sign-in). Every other session of the
// account ends; this browser gets a new one.
func (s *Server) passwordPost(w http.ResponseWriter, r *http.Request, x *session) {
	refuse := func(status int, field, msg string) {
		s.render(w, r, x, "password", status, &view{Title: "Change password", Section: "Users", Errors: map[string]string{field: msg}})
	}
	cur, nw, confirm := r.PostFormValue(fieldCurrent), r.PostFormValue(fieldNew), r.PostFormValue(fieldConfirm)
	keys := []string{websession.AccountKey(x.User), websession.SourceKey(websession.Source(r))}
	until, ok := s.lockout.Begin(keys...)
	if !ok {
		text := websession.BusyText
		if !until.IsZero() {
			text = websession.LockedText(until.Sub(s.clock.Now()))
		}
		refuse(http.StatusTooManyRequests, fieldCurrent, text)
		return
	}
	defer s.lockout.End(keys...)
	if err := s.users.Check(x.User, cur); err != nil {
		n, _ := s.lockout.Fail(keys...)
		s.event("password change of %s from %s refused: the current password is wrong (%d failures)", websession.LogQuote(x.User), websession.Source(r), n)
		msg := "The current password is wrong."
		if !errors.Is(err, platform.ErrWrongPassword) {
			msg = err.Error()
		}
		refuse(http.StatusBadRequest, fieldCurrent, msg)
		return
	}
	if nw != confirm {
		refuse(http.StatusBadRequest, fieldConfirm, "the two passwords do not match; the password is unchanged")
		return
	}
	if err := s.users.SetPassword(x.User, nw); err != nil {
		refuse(http.StatusBadRequest, fieldNew, err.Error())
		return
	}
	s.event("password of %s changed from %s", websession.LogQuote(x.User), websession.Source(r))
	nx, err := s.passwordChanged(w, x)
	if err != nil {
		refuse(http.StatusInternalServerError, "", err.Error())
		return
	}
	s.sessions.AddFlash(nx, flash{Text: "Password changed. Other sessions of " + x.User + " have ended."})
	websession.SeeOther(w, r, "/users/password")
}
