package portal

import (
	"fmt"
	"net/http"

	"vxway/ssm"
	"vxway/websession"
)

// Users: what ssm user add / delete / reset-password do, for the users a
// manager administrator or a smart-account administrator manages.

type usersData struct {
	Users []ssm.User
	Roles []ssm.Role
	// Accounts and VAs are where the signed-in user may add users.
	Accounts []string
	VAs      []string
}

func (p *Portal) usersPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	p.showUsers(w, r, x, u, http.StatusOK, nil, nil)
}

func (p *Portal) showUsers(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, st int, errs, form map[string]string) {
	list, err := p.store.VisibleUsers(r.Context(), u)
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	d := usersData{Users: list, Roles: []ssm.Role{ssm.RoleAccountAdmin, ssm.RoleVAUser}}
	if u.IsManagerAdmin() {
		d.Roles = ssm.Roles()
	}
	accts, err := p.store.VisibleAccounts(r.Context(), u)
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	for _, a := range accts {
		d.Accounts = append(d.Accounts, a.Name)
		d.VAs = append(d.VAs, a.VirtualAccounts...)
	}
	p.render(w, r, x, u, "users", st, &view{Title: "Users", Errors: errs, Form: form, Data: d})
}

func (p *Portal) addUser(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	name, role := r.PostFormValue("name"), ssm.Role(r.PostFormValue("role"))
	// The form offers both lists; the role says which one counts.
	account, va := "", ""
	switch role {
	case ssm.RoleAccountAdmin:
		account = r.PostFormValue("account")
	case ssm.RoleVAUser:
		va = r.PostFormValue("va")
	}
	// A virtual-account user's refusal shows alone: showUsers refuses
	// it the page too.
	err := p.store.ScopeNewUser(r.Context(), u, role, account, va)
	var pw string
	if err == nil {
		pw, _, err = p.store.AddUser(r.Context(), name, role, account, va, p.clock.Now())
	}
	if err != nil {
		p.showUsers(w, r, x, u, status(err), map[string]string{"add": p.refusal(r, err)}, formOf(r))
		return
	}
	p.log.Info("portal user added", "by", websession.LogQuote(u.Name), "user", websession.LogQuote(name), "role", string(role))
	p.sessions.AddFlash(x, websession.Flash{Text: fmt.Sprintf("User %s added. Give them this one-time password; they choose their own at the first sign-in. It is not shown again.", name), Code: pw})
	websession.SeeOther(w, r, "/portal/users")
}

func (p *Portal) deleteUser(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	name := r.PostFormValue("name")
	err := p.store.ScopeUser(r.Context(), u, name)
	if err == nil && name == u.Name {
		err = fmt.Errorf("%w: you cannot delete your own user; another administrator can (or: ssm user delete)", ssm.ErrInvalid)
	}
	if err == nil {
		err = p.store.DeleteUser(r.Context(), name)
	}
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.sessions.DropUser(name)
	p.log.Info("portal user deleted", "by", websession.LogQuote(u.Name), "user", websession.LogQuote(name))
	p.flash(x, "User %s deleted.", name)
	websession.SeeOther(w, r, "/portal/users")
}

func (p *Portal) resetPassword(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	name := r.PostFormValue("name")
	var pw string
	err := p.store.ScopeUser(r.Context(), u, name)
	if err == nil && name == u.Name {
		// The reset would end the session meant to show the new
		// one-time password.
		err = fmt.Errorf("%w: you cannot reset your own password here; choose a new one on the Change password page", ssm.ErrInvalid)
	}
	if err == nil {
		pw, err = p.store.ResetPassword(r.Context(), name, p.clock.Now())
	}
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.sessions.DropUser(name)
	p.log.Info("portal password reset", "by", websession.LogQuote(u.Name), "user", websession.LogQuote(name))
	p.sessions.AddFlash(x, websession.Flash{Text: fmt.Sprintf("New one-time password of %s; it is not shown again.", name), Code: pw})
	websession.SeeOther(w, r, "/portal/users")
}
