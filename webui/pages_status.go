package webui

import (
	"fmt"
	"net/http"
	"time"

	"vxway/agentclient"
	"vxway/platform"
	"vxway/websession"
)

type overviewData struct {
	SystemName string
	Brand      string
	Type       string
	Version    string
	Serial     string
	UDI        string
	Uptime     string
	Licensing  string
	// LicensingError says why the licensing figures are missing.
	LicensingError string
	Usage          []usageRow
	Export         agentclient.ExportStatus
	ExportState    string
	ExportPercent  int
	Registration   string
	Authorization  string
}

// usageRow is one license type in Resource usage.
type usageRow struct {
	Name     string
	Current  int
	Peak     int
	Reserved string
	// Installed, Borrowed and Lent are the counts of the type in the
	// cluster sense (docs/cluster.md).
	Installed, Borrowed, Lent int
	Status                    string
}

// licenseNames are the license types the device consumes, as the
// Resource usage table names them.
var licenseNames = []struct{ Type, Name string }{
	{agentclient.TypeRMS, "Rich Media Sessions"},
	{agentclient.TypeRoom, "Room System registrations"},
	{agentclient.TypeDesktop, "Desktop System registrations"},
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, x *session) {
	d := overviewData{Version: "unknown"}
	var problems []string
	cfg, err := platform.LoadSystemConfig(s.root)
	if err != nil {
		problems = append(problems, err.Error())
	}
	d.SystemName, d.Brand, d.Type = cfg.Hostname, string(cfg.Brand), string(cfg.Type)
	if id, err := platform.LoadIdentity(s.root, s.clock); err == nil {
		d.Serial, d.UDI = id.Serial, id.UDI(cfg.Brand)
	} else {
		problems = append(problems, err.Error())
	}
	if info, err := platform.LoadImageInfo(s.root); err == nil {
		d.Version = info.SoftwareVersion
	}
	if up, err := platform.Uptime(s.root); err == nil {
		d.Uptime = formatUptime(up)
	}
	d.Licensing = "Option keys"
	if cfg.SmartLicensingEnabled {
		d.Licensing = "Smart Licensing"
	}
	if st, err := s.lic.Status(r.Context()); err != nil {
		d.LicensingError = err.Error()
	} else {
		d.Registration, d.Authorization = st.Registration, st.Authorization
		d.Export = st.Export
		d.Usage = usageRows(st)
		if st.Export.Limit > 0 {
			d.ExportPercent = st.Export.Encrypted * 100 / st.Export.Limit
		}
		switch {
		case st.Export.Reached || !st.Export.Accepting:
			d.ExportState = "Limit reached: new encrypted sessions are refused"
		case st.Export.Approaching:
			d.ExportState = "Approaching the limit (90 %)"
		default:
			d.ExportState = "Normal"
		}
	}
	v := &view{Title: "Overview", Section: "Status", Data: d}
	if len(problems) > 0 {
		v.Errors = map[string]string{"": fmt.Sprint(problems)}
	}
	s.render(w, r, x, "overview", http.StatusOK, v)
}

// usageRows lists every license type with its use, what is installed,
// borrowed from cluster peers and lent to them and, under a reservation,
// what is reserved.
func usageRows(st agentclient.Status) []usageRow {
	var rows []usageRow
	for _, n := range licenseNames {
		row := usageRow{Name: n.Name, Status: "Not in use", Reserved: "—", Peak: st.Peak[n.Type]}
		for _, u := range st.Usage {
			if u.Type == n.Type {
				row.Current, row.Status = u.Count, u.Status
			}
		}
		for _, l := range st.Reservation.Licenses {
			if l.Type == n.Type {
				row.Reserved = fmt.Sprintf("%d (%s)", l.Count, l.Validity)
			}
		}
		for _, l := range st.Licenses {
			if l.Type == n.Type {
				row.Installed, row.Borrowed, row.Lent = l.Installed, l.Borrowed, l.Lent
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func formatUptime(d time.Duration) string {
	d = d.Truncate(time.Second)
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	return fmt.Sprintf("%d days %d hours %d minutes %d seconds", days, h, m, sec)
}

type alarmsData struct {
	Alarms []platform.Alarm
}

func (s *Server) alarmsPage(w http.ResponseWriter, r *http.Request, x *session) {
	s.showAlarms(w, r, x, http.StatusOK, nil)
}

func (s *Server) showAlarms(w http.ResponseWriter, r *http.Request, x *session, status int, errs map[string]string) {
	list, err := s.alarms.List()
	v := &view{Title: "Alarms", Section: "Status", Data: alarmsData{Alarms: list}, Errors: errs}
	if err != nil {
		v.Errors = map[string]string{"": err.Error()}
	}
	s.render(w, r, x, "alarms", status, v)
}

// alarmsPost acknowledges one alarm, as xcommand Alarm Acknowledge does.
func (s *Server) alarmsPost(w http.ResponseWriter, r *http.Request, x *session) {
	id, err := platform.ParseAlarmID(r.PostFormValue("id"))
	if err == nil {
		err = s.alarms.Acknowledge(id)
	}
	if err != nil {
		s.showAlarms(w, r, x, http.StatusBadRequest, map[string]string{"": err.Error()})
		return
	}
	s.sessions.AddFlash(x, flash{Text: fmt.Sprintf("Alarm %d acknowledged.", id)})
	websession.SeeOther(w, r, "/status/alarms")
}
