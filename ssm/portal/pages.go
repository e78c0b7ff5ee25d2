package portal

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"vxway/licproto"
	"vxway/reservation"
	"vxway/ssm"
	"vxway/websession"
)

// Smart accounts and virtual accounts.

type accountsData struct {
	Accounts []ssm.Account
	// CanCreateAccount: a manager administrator; VAAccounts are the
	// smart accounts the user may add virtual accounts to.
	CanCreateAccount bool
	VAAccounts       []string
}

func (p *Portal) accountsPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	p.showAccounts(w, r, x, u, http.StatusOK, nil, nil)
}

func (p *Portal) showAccounts(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, st int, errs, form map[string]string) {
	accts, err := p.store.VisibleAccounts(r.Context(), u)
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	d := accountsData{Accounts: accts, CanCreateAccount: u.IsManagerAdmin()}
	if ssm.RequireAccountAdmin(u, "") == nil {
		for _, a := range accts {
			d.VAAccounts = append(d.VAAccounts, a.Name)
		}
	}
	p.render(w, r, x, u, "accounts", st, &view{Title: "Smart Accounts", Errors: errs, Form: form, Data: d})
}

func (p *Portal) createAccount(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	name := r.PostFormValue("name")
	err := ssm.RequireManagerAdmin(u, "create smart accounts")
	if err == nil {
		err = p.store.CreateAccount(r.Context(), name, p.clock.Now())
	}
	if err != nil {
		p.showAccounts(w, r, x, u, status(err), map[string]string{"account": p.refusal(r, err)}, formOf(r))
		return
	}
	p.flash(x, "Smart account %s created.", name)
	websession.SeeOther(w, r, "/portal/")
}

func (p *Portal) createVA(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	account, name := r.PostFormValue("account"), r.PostFormValue("name")
	err := ssm.RequireAccountAdmin(u, "create virtual accounts")
	if err == nil {
		err = p.store.ScopeAccount(r.Context(), u, account)
	}
	if err == nil {
		err = p.store.CreateVA(r.Context(), account, name, p.clock.Now())
	}
	if err != nil {
		p.showAccounts(w, r, x, u, status(err), map[string]string{"va": p.refusal(r, err)}, formOf(r))
		return
	}
	p.flash(x, "Virtual account %s created in %s.", name, account)
	websession.SeeOther(w, r, vaPath("/portal/inventory/general", name))
}

// formOf is what the user typed, to show again with a refusal.
func formOf(r *http.Request) map[string]string {
	out := map[string]string{}
	for k, v := range r.PostForm {
		if k != websession.CSRFField && len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// fail shows a page's refusal on its own.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, err error) {
	p.render(w, r, x, u, "problem", status(err), &view{Title: "Not possible", Errors: map[string]string{"": p.refusal(r, err)}})
}

// refusal is what a page says of err: the store's message for a refusal
// (the CLI's and the API's words); an internal error's own words (the
// database's) stay in the log.
func (p *Portal) refusal(r *http.Request, err error) string {
	if status(err) != http.StatusInternalServerError {
		return err.Error()
	}
	p.log.Error("portal: serving a request", "path", r.URL.Path, "err", err)
	return "Internal error: the manager could not do it; its log says why."
}

// Inventory: one virtual account at a time.

// inventory fills v with the virtual account va of an Inventory page
// after checking that u may see it; va empty takes the first one u sees.
func (p *Portal) inventory(r *http.Request, u *ssm.User, va string, v *view) error {
	vas, err := p.store.VisibleVAs(r.Context(), u)
	if err != nil {
		return err
	}
	if va == "" {
		if len(vas) == 0 {
			return fmt.Errorf("%w: there is no virtual account to show yet; create one on the Smart Accounts page", ssm.ErrNotFound)
		}
		va = vas[0]
	}
	if err := p.store.ScopeVA(r.Context(), u, va); err != nil {
		return err
	}
	accts, err := p.store.VisibleAccounts(r.Context(), u)
	if err != nil {
		return err
	}
	for _, a := range accts {
		if slices.Contains(a.VirtualAccounts, va) {
			v.Account = a.Name
		}
	}
	v.VA, v.VAs = va, vas
	return nil
}

// siblings are the other virtual accounts of va's smart account that u
// may see: where licenses and instances may be transferred to.
func (p *Portal) siblings(r *http.Request, u *ssm.User, va string) ([]string, error) {
	accts, err := p.store.VisibleAccounts(r.Context(), u)
	if err != nil {
		return nil, err
	}
	for _, a := range accts {
		if slices.Contains(a.VirtualAccounts, va) {
			return slices.DeleteFunc(slices.Clone(a.VirtualAccounts), func(s string) bool { return s == va }), nil
		}
	}
	return nil, nil
}

// tab serves an Inventory tab: it checks the virtual account, then show
// fills the page's data.
func (p *Portal) tab(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, va, page, tab string, st int, errs, form map[string]string, show func(v *view) error) {
	v := &view{Title: "Inventory", Tab: tab, Errors: errs, Form: form}
	if err := p.inventory(r, u, va, v); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	if err := show(v); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.render(w, r, x, u, page, st, v)
}

// General tab: registration tokens.

type tokenRow struct {
	ssm.TokenInfo
	Status string
}

func (p *Portal) generalPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	p.showGeneral(w, r, x, u, r.URL.Query().Get("va"), http.StatusOK, nil, nil)
}

func (p *Portal) showGeneral(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, va string, st int, errs, form map[string]string) {
	p.tab(w, r, x, u, va, "general", "General", st, errs, form, func(v *view) error {
		list, err := p.store.Tokens(r.Context(), v.VA)
		if err != nil {
			return err
		}
		now := p.clock.Now()
		rows := []tokenRow{}
		for _, t := range list {
			rows = append(rows, tokenRow{t, t.Status(now)})
		}
		slices.Reverse(rows) // newest first, as the vendor portal lists them
		v.Data = rows
		return nil
	})
}

// intField reads an optional whole number field; empty is def.
func intField(r *http.Request, name, what string, def int) (int, error) {
	s := strings.TrimSpace(r.PostFormValue(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a whole number", ssm.ErrInvalid, what, s)
	}
	return n, nil
}

func (p *Portal) createToken(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	va := r.PostFormValue("va")
	refuse := func(err error) {
		p.showGeneral(w, r, x, u, va, status(err), map[string]string{"token": p.refusal(r, err)}, formOf(r))
	}
	days, err := intField(r, "expires_days", "expiry in days", ssm.DefaultTokenDays)
	if err != nil {
		refuse(err)
		return
	}
	uses, err := intField(r, "uses", "maximum number of uses", 0)
	if err != nil {
		refuse(err)
		return
	}
	if err := p.store.ScopeVA(r.Context(), u, va); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	tok, info, err := p.store.CreateToken(r.Context(), va, ssm.TokenOptions{ExpiresDays: days, MaxUses: uses,
		ExportControlled: r.PostFormValue("export_controlled") != "", Description: r.PostFormValue("description")}, p.clock.Now())
	if err != nil {
		refuse(err)
		return
	}
	p.sessions.AddFlash(x, websession.Flash{Text: fmt.Sprintf("Token %d created for %s: copy it now, it is not shown again.", info.ID, va), Code: tok})
	websession.SeeOther(w, r, vaPath("/portal/inventory/general", va))
}

func (p *Portal) revokeToken(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	id := r.PostFormValue("id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		p.fail(w, r, x, u, fmt.Errorf("%w: token id %q is not a number", ssm.ErrInvalid, id))
		return
	}
	if err := p.store.ScopeToken(r.Context(), u, id); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	info, err := p.store.RevokeToken(r.Context(), id, p.clock.Now())
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.flash(x, "Token %d (%s) revoked.", info.ID, info.Hint)
	websession.SeeOther(w, r, vaPath("/portal/inventory/general", info.VirtualAccount))
}

// Licenses tab: counts, transfer, License Reservation.

type licensesData struct {
	Licenses     []ssm.LicenseCount
	TransferTo   []string
	Reservations []ssm.ReservationInfo
	Types        []licproto.LicenseType
	PoolTypes    []licproto.LicenseType
}

func (p *Portal) licensesPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	var form map[string]string
	if req := r.URL.Query().Get("update"); req != "" {
		// "Update Reserved Licenses": the form again with the request
		// code of the reserved instance.
		form = map[string]string{"request": req, "kind": "slr"}
	}
	p.showLicenses(w, r, x, u, r.URL.Query().Get("va"), http.StatusOK, nil, form)
}

func (p *Portal) showLicenses(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, va string, st int, errs, form map[string]string) {
	p.tab(w, r, x, u, va, "licenses", "Licenses", st, errs, form, func(v *view) error {
		list, err := p.store.Licenses(r.Context(), v.VA)
		if err != nil {
			return err
		}
		d := licensesData{Types: licproto.LicenseTypes()}
		for _, l := range list {
			// PLR licenses are listed once the account has any.
			if l.Type.Valid() || l.Purchased > 0 || l.Reserved > 0 {
				d.Licenses = append(d.Licenses, l)
			}
			d.PoolTypes = append(d.PoolTypes, l.Type)
		}
		if d.TransferTo, err = p.siblings(r, u, v.VA); err != nil {
			return err
		}
		if d.Reservations, err = p.res.List(r.Context(), v.VA); err != nil {
			return err
		}
		v.Data = d
		return nil
	})
}

func (p *Portal) transferLicenses(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	from, to := r.PostFormValue("va"), r.PostFormValue("to")
	refuse := func(err error) {
		p.showLicenses(w, r, x, u, from, status(err), map[string]string{"transfer": p.refusal(r, err)}, formOf(r))
	}
	if err := p.store.ScopeVA(r.Context(), u, from); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	if err := p.store.ScopeVA(r.Context(), u, to); err != nil {
		refuse(err)
		return
	}
	n, err := intField(r, "count", "quantity", 0)
	if err != nil {
		refuse(err)
		return
	}
	typ := licproto.LicenseType(r.PostFormValue("type"))
	if err := p.store.TransferLicenses(r.Context(), from, to, typ, n, p.clock.Now()); err != nil {
		refuse(err)
		return
	}
	p.flash(x, "Transferred %d %s licenses from %s to %s.", n, typeName(typ), from, to)
	websession.SeeOther(w, r, vaPath("/portal/inventory/licenses", from))
}

// reserveLicenses builds the TYPE=N list of the reservation form's
// quantities, for ssm.ParseReserveOptions (the CLI's and the API's
// parser, with their messages).
func reserveLicenses(r *http.Request) string {
	var parts []string
	for _, t := range reservation.LicenseTypes() {
		if s := strings.TrimSpace(r.PostFormValue("qty_" + string(t))); s != "" && s != "0" {
			parts = append(parts, string(t)+"="+s)
		}
	}
	return strings.Join(parts, ",")
}

func (p *Portal) authorizeReservation(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	va := r.PostFormValue("va")
	refuse := func(err error) {
		p.showLicenses(w, r, x, u, va, status(err), map[string]string{"reserve": p.refusal(r, err)}, formOf(r))
	}
	if err := p.store.ScopeVA(r.Context(), u, va); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	kind := r.PostFormValue("kind")
	if kind != "slr" && kind != "plr" {
		refuse(fmt.Errorf("%w: choose Specific License Reservation or Permanent License Reservation", ssm.ErrInvalid))
		return
	}
	lic, end := reserveLicenses(r), strings.TrimSpace(r.PostFormValue("end"))
	if kind == "plr" {
		lic, end = "", ""
	}
	o, err := ssm.ParseReserveOptions(kind == "plr", r.PostFormValue("export_control") != "", lic, end)
	if err != nil {
		refuse(err)
		return
	}
	code, info, err := p.res.Authorize(r.Context(), va, strings.TrimSpace(r.PostFormValue("request")), o, p.clock.Now())
	if err != nil {
		refuse(err)
		return
	}
	text := fmt.Sprintf("Authorization code for %s (%s, %s): enter it on the device with xcommand License Smart Reservation Install \"<code>\".", info.UDI, strings.ToUpper(code.Kind), ssm.CountsText(code.Holding))
	if code.State == "in_transit" {
		text += " The licenses stay in transit until you enter the device's confirmation code below."
	}
	p.sessions.AddFlash(x, websession.Flash{Text: text, Code: code.Code})
	websession.SeeOther(w, r, vaPath("/portal/inventory/licenses", va))
}

func (p *Portal) confirmReservation(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	va := r.PostFormValue("va")
	if err := p.store.ScopeVA(r.Context(), u, va); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	info, err := p.res.Confirm(r.Context(), va, strings.TrimSpace(r.PostFormValue("code")), p.clock.Now())
	if err != nil {
		p.showLicenses(w, r, x, u, va, status(err), map[string]string{"confirm": p.refusal(r, err)}, formOf(r))
		return
	}
	p.flash(x, "Confirmation code entered: %s now holds %s.", info.UDI, ssm.CountsText(info.Blocked))
	websession.SeeOther(w, r, vaPath("/portal/inventory/licenses", va))
}

// Product Instances tab.

// maxInstancesShown bounds the instances one page lists with their usage.
const maxInstancesShown = 500

type instancesData struct {
	Instances    []ssm.Instance
	Total        int
	Reservations []ssm.ReservationInfo
	TransferTo   []string
}

func (p *Portal) instancesPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	p.showInstances(w, r, x, u, r.URL.Query().Get("va"), http.StatusOK, nil, nil)
}

func (p *Portal) showInstances(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User, va string, st int, errs, form map[string]string) {
	p.tab(w, r, x, u, va, "instances", "Product Instances", st, errs, form, func(v *view) error {
		list, err := p.store.Instances(r.Context(), v.VA)
		if err != nil {
			return err
		}
		d := instancesData{Total: len(list), Instances: []ssm.Instance{}}
		for _, in := range list[:min(len(list), maxInstancesShown)] {
			full, err := p.store.Instance(r.Context(), in.UDI)
			if err != nil {
				continue // removed meanwhile
			}
			d.Instances = append(d.Instances, *full)
		}
		if d.Reservations, err = p.res.List(r.Context(), v.VA); err != nil {
			return err
		}
		if d.TransferTo, err = p.siblings(r, u, v.VA); err != nil {
			return err
		}
		v.Data = d
		return nil
	})
}

// removeConfirmPage asks before an instance is removed, as the CLI does
// (ssm instance remove asks for yes).
func (p *Portal) removeConfirmPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	udi := r.URL.Query().Get("udi")
	va, err := p.store.ScopeInstance(r.Context(), u, udi)
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	in, err := p.store.Instance(r.Context(), udi)
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	v := &view{Title: "Remove Product Instance", Data: in}
	if err := p.inventory(r, u, va, v); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.render(w, r, x, u, "remove", http.StatusOK, v)
}

func (p *Portal) removeInstance(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	udi := r.PostFormValue("udi")
	va, err := p.store.ScopeInstance(r.Context(), u, udi)
	if err == nil {
		err = p.store.RemoveInstance(r.Context(), udi, p.clock.Now())
	}
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.flash(x, "Product instance %s removed; its licenses are back in %s.", udi, va)
	websession.SeeOther(w, r, vaPath("/portal/inventory/instances", va))
}

func (p *Portal) returnReservation(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	va := r.PostFormValue("va")
	if err := p.store.ScopeVA(r.Context(), u, va); err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	info, err := p.res.Return(r.Context(), va, strings.TrimSpace(r.PostFormValue("code")), p.clock.Now())
	if err != nil {
		p.showInstances(w, r, x, u, va, status(err), map[string]string{"return": p.refusal(r, err)}, formOf(r))
		return
	}
	p.flash(x, "Product instance %s removed with its return code; %s returned to %s.", info.UDI, ssm.CountsText(info.Blocked), va)
	websession.SeeOther(w, r, vaPath("/portal/inventory/instances", va))
}

func (p *Portal) transferInstance(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	udi, to := r.PostFormValue("udi"), r.PostFormValue("to")
	from, err := p.store.ScopeInstance(r.Context(), u, udi)
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	err = p.store.ScopeVA(r.Context(), u, to)
	if err == nil {
		err = p.store.TransferInstance(r.Context(), udi, to, p.clock.Now())
	}
	if err != nil {
		p.showInstances(w, r, x, u, from, status(err), map[string]string{"transfer": p.refusal(r, err)}, formOf(r))
		return
	}
	p.flash(x, "Product instance %s transferred to %s.", udi, to)
	websession.SeeOther(w, r, vaPath("/portal/inventory/instances", from))
}

// Event Log tab.

// eventsShown is how many events the Event Log shows.
const eventsShown = 200

func (p *Portal) eventsPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	p.tab(w, r, x, u, r.URL.Query().Get("va"), "events", "Event Log", http.StatusOK, nil, nil, func(v *view) error {
		list, err := p.store.Events(r.Context(), v.VA, eventsShown)
		if err != nil {
			return err
		}
		slices.Reverse(list) // newest first
		v.Data = list
		return nil
	})
}

// API token: a user's own admin API tokens.

func (p *Portal) apiTokenPage(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	list, err := p.store.UserTokens(r.Context(), u.Name)
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.render(w, r, x, u, "apitoken", http.StatusOK, &view{Title: "API tokens", Data: list})
}

func (p *Portal) apiTokenPost(w http.ResponseWriter, r *http.Request, x *websession.Session, u *ssm.User) {
	if r.PostFormValue("action") == "revoke" {
		n, err := p.store.RevokeUserTokens(r.Context(), u.Name)
		if err != nil {
			p.fail(w, r, x, u, err)
			return
		}
		p.flash(x, "%d API token(s) revoked.", n)
		websession.SeeOther(w, r, "/portal/api-token")
		return
	}
	tok, info, err := p.store.CreateUserToken(r.Context(), u.Name, p.clock.Now())
	if err != nil {
		p.fail(w, r, x, u, err)
		return
	}
	p.sessions.AddFlash(x, websession.Flash{Text: fmt.Sprintf("API token %d created: copy it now, it is not shown again. Send it as Authorization: Bearer TOKEN.", info.ID), Code: tok})
	websession.SeeOther(w, r, "/portal/api-token")
}
