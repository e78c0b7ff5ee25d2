package webui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"vxway/netconf"
	"vxway/netsettings"
	"vxway/platform"
	"vxway/websession"
)

type serviceSelectData struct {
	Config     platform.SystemConfig
	VCS        bool
	OptionKeys []platform.InstalledKey
	Features   []featureRow
}

type featureRow struct {
	Name, State string
}

func (s *Server) serviceSelectPage(w http.ResponseWriter, r *http.Request, x *session) {
	s.showServiceSelect(w, r, x, http.StatusOK, nil, nil)
}

func (s *Server) showServiceSelect(w http.ResponseWriter, r *http.Request, x *session, status int, errs, form map[string]string) {
	var d serviceSelectData
	cfg, err := platform.LoadSystemConfig(s.root)
	if err != nil {
		errs = map[string]string{"": err.Error()}
	}
	d.Config, d.VCS = cfg, cfg.Brand == platform.BrandVCS
	ok := platform.NewOptionKeys(s.root, s.clock)
	if keys, err := ok.List(); err == nil {
		d.OptionKeys = keys
	}
	for _, f := range []string{platform.OptionAdvancedAccountSecurity, platform.OptionHSM, platform.OptionMSInterop} {
		avail, why, err := ok.Feature(f)
		state := "Available"
		switch {
		case err != nil:
			state = err.Error()
		case !avail:
			state = "Unavailable: " + why
		}
		opt, _ := platform.OptionByName(f)
		d.Features = append(d.Features, featureRow{Name: opt.Title, State: state})
	}
	s.render(w, r, x, "serviceselect", status, &view{Title: "Service Select", Section: "System", Data: d, Errors: errs, Form: form})
}

// serviceSelectPost sets brand and type, or adds an option key, with the
// functions xconfiguration SystemUnit ServiceSelect and xcommand
// OptionKey Add use. Converting a VCS to Expressway cannot be undone, so
// it needs the confirmation box.
func (s *Server) serviceSelectPost(w http.ResponseWriter, r *http.Request, x *session) {
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "save":
		form := map[string]string{"brand": r.PostFormValue("brand"), "type": r.PostFormValue("type")}
		cfg, err := platform.LoadSystemConfig(s.root)
		if err != nil {
			s.showServiceSelect(w, r, x, http.StatusInternalServerError, map[string]string{"": err.Error()}, form)
			return
		}
		b, berr := platform.ParseBrand(form["brand"])
		t, terr := platform.ParseType(form["type"])
		errs := map[string]string{}
		if berr != nil {
			errs["brand"] = berr.Error()
		}
		if terr != nil {
			errs["type"] = terr.Error()
		}
		if berr == nil && b == platform.BrandExpressway && cfg.Brand == platform.BrandVCS && r.PostFormValue("confirm") != "on" {
			errs["brand"] = "Converting a VCS to Expressway turns Smart Licensing on and cannot be undone (only a factory reset makes the device a VCS again): tick the box to confirm."
		}
		if berr == nil && b == platform.BrandVCS && cfg.SmartLicensingEnabled {
			// SetBrand refuses it; said here before the type is changed.
			errs["brand"] = platform.SetBrand(s.root, b, s.clock).Error()
		}
		if len(errs) > 0 {
			s.showServiceSelect(w, r, x, http.StatusBadRequest, errs, form)
			return
		}
		var notes []string
		if b != cfg.Brand {
			warning, err := platform.SelectBrand(ctx, s.root, b, s.clock, platform.Hooks{SmartLicensingEnabled: s.lic.Enable})
			if err != nil {
				s.showServiceSelect(w, r, x, http.StatusBadRequest, map[string]string{"brand": err.Error()}, form)
				return
			}
			notes = append(notes, "Brand set to "+string(b)+".")
			if warning != "" {
				notes = append(notes, warning)
			}
		}
		if t != cfg.Type {
			if err := platform.SetType(s.root, t); err != nil {
				s.showServiceSelect(w, r, x, http.StatusBadRequest, map[string]string{"type": err.Error()}, form)
				return
			}
			notes = append(notes, "Type set to "+string(t)+".")
		}
		if len(notes) == 0 {
			notes = []string{"Nothing changed."}
		}
		s.sessions.AddFlash(x, flash{Text: strings.Join(notes, " ")})
		websession.SeeOther(w, r, "/system/service-select")
	case "add-key":
		key := strings.TrimSpace(r.PostFormValue("key"))
		form := map[string]string{"key": key}
		if len(key) > 1024 {
			s.showServiceSelect(w, r, x, http.StatusBadRequest, map[string]string{"key": "the option key is longer than any option key; copy it again"}, nil)
			return
		}
		if key == "" {
			s.showServiceSelect(w, r, x, http.StatusBadRequest, map[string]string{"key": fmt.Sprintf("%v: give the key", platform.ErrBadRequest)}, form)
			return
		}
		k, err := platform.NewOptionKeys(s.root, s.clock).Add(key)
		if err != nil {
			s.showServiceSelect(w, r, x, http.StatusBadRequest, map[string]string{"key": err.Error()}, form)
			return
		}
		s.sessions.AddFlash(x, flash{Text: "Option key added: " + k.Option + "."})
		websession.SeeOther(w, r, "/system/service-select")
	default:
		http.Error(w, "Bad request: unknown action", http.StatusBadRequest)
	}
}

type networkData struct {
	Config netsettings.Config
	Status netconf.Status
	// Running is false when the network service has not reported.
	Running bool
	DNS     []serverRow
	NTP     []serverRow
}

// serverRow is one numbered server slot of the form.
type serverRow struct {
	Field, Label, Value string
}

func (s *Server) networkPage(w http.ResponseWriter, r *http.Request, x *session) {
	s.showNetwork(w, r, x, http.StatusOK, nil, nil)
}

func (s *Server) showNetwork(w http.ResponseWriter, r *http.Request, x *session, status int, errs, form map[string]string) {
	var d networkData
	c, err := netsettings.Load(s.root)
	if err != nil && !errors.Is(err, netsettings.ErrNotConfigured) {
		errs = map[string]string{"": err.Error()}
	}
	d.Config = c
	if st, err := netconf.ReadStatus(s.root); err == nil {
		d.Status, d.Running = st, true
	}
	for i := 1; i <= netsettings.MaxDNSServers; i++ {
		d.DNS = append(d.DNS, serverRow{Field: fmt.Sprintf("dns%d", i), Label: fmt.Sprintf("DNS server %d address", i), Value: slot(c.DNSServers, i)})
	}
	for i := 1; i <= netsettings.MaxNTPServers; i++ {
		d.NTP = append(d.NTP, serverRow{Field: fmt.Sprintf("ntp%d", i), Label: fmt.Sprintf("NTP server %d", i), Value: slot(c.NTPServers, i)})
	}
	s.render(w, r, x, "network", status, &view{Title: "Network", Section: "System", Data: d, Errors: errs, Form: form})
}

func slot(slots []string, n int) string {
	if n <= len(slots) {
		return slots[n-1]
	}
	return ""
}

// networkPost saves the page's IP, DNS and NTP settings in one change
// through netconf.Update, setting each field with the function its
// xconfiguration command uses: any refused field refuses the whole form
// and nothing is written.
func (s *Server) networkPost(w http.ResponseWriter, r *http.Request, x *session) {
	form := map[string]string{}
	for _, f := range []string{"dhcp", "address", "prefix_length", "gateway", "domain"} {
		form[f] = r.PostFormValue(f)
	}
	for i := 1; i <= netsettings.MaxDNSServers; i++ {
		f := "dns" + strconv.Itoa(i)
		form[f] = r.PostFormValue(f)
	}
	for i := 1; i <= netsettings.MaxNTPServers; i++ {
		f := "ntp" + strconv.Itoa(i)
		form[f] = r.PostFormValue(f)
	}
	errs := map[string]string{}
	errRefused := errors.New("refused")
	note, err := netconf.Update(r.Context(), s.root, s.netWait, func(c *netsettings.Config) error {
		set := func(field string, apply func() error) {
			if err := apply(); err != nil {
				errs[field] = err.Error()
			}
		}
		// The address before DHCP Off, which needs one.
		ip := func(field, leaf string, cur string) {
			if v := strings.TrimSpace(form[field]); v != cur {
				set(field, func() error { return netconf.SetIP(c, leaf, v) })
			}
		}
		plen := ""
		if c.PrefixLength != 0 {
			plen = strconv.Itoa(c.PrefixLength)
		}
		ip("address", "Address", c.Address)
		ip("prefix_length", "PrefixLength", plen)
		ip("gateway", "Gateway", c.Gateway)
		ip("dhcp", "DHCP", onOff(c.DHCP))
		set("domain", func() error { return netconf.SetDNSDomain(c, form["domain"]) })
		// The server lists are set whole, so that servers can swap slots.
		c.DNSServers, c.NTPServers = nil, nil
		for i := 1; i <= netsettings.MaxDNSServers; i++ {
			f := "dns" + strconv.Itoa(i)
			set(f, func() error { return netconf.SetDNSServer(c, i, form[f]) })
		}
		for i := 1; i <= netsettings.MaxNTPServers; i++ {
			f := "ntp" + strconv.Itoa(i)
			set(f, func() error { return netconf.SetNTPServer(c, i, form[f]) })
		}
		if c.DNSServers == nil {
			c.DNSServers = []string{}
		}
		if c.NTPServers == nil {
			c.NTPServers = []string{}
		}
		if len(errs) > 0 {
			return errRefused
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errRefused) {
			errs[""] = err.Error()
		}
		s.showNetwork(w, r, x, http.StatusBadRequest, errs, form)
		return
	}
	text := "Network settings saved and applied."
	if note != "" {
		text = "Network settings " + note + "."
	}
	s.sessions.AddFlash(x, flash{Text: text})
	websession.SeeOther(w, r, "/system/network")
}
