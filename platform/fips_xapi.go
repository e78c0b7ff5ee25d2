package platform

import (
	"context"
	"fmt"
	"strings"

	"vxway/xapi"
)

func onOff(b bool) string {
	if b {
		return "On"
	}
	return "Off"
}

// fipsStatusLines are xstatus SystemUnit's FIPS 140 lines: the mode the
// running boot applied, the configured one, and whether a restart is
// needed to bring them together.
func (h *handlers) fipsStatusLines() []statusLine {
	cfg, err := LoadFIPSConfig(h.root)
	if err != nil {
		return []statusLine{{path: []string{"FIPS140", "Error"}, value: err.Error()}}
	}
	st, ok, err := LoadFIPSStatus(h.root)
	active := "Unknown"
	switch {
	case err != nil:
		active = "Unknown: " + err.Error()
	case ok:
		active = onOff(st.Mode)
	}
	lines := []statusLine{
		{path: []string{"FIPS140", "Mode"}, value: active},
		{path: []string{"FIPS140", "Configured"}, value: onOff(cfg.Mode)},
	}
	if ok && st.Mode != cfg.Mode {
		lines = append(lines, statusLine{path: []string{"FIPS140", "RestartRequired"}, value: "Yes"})
	}
	if ok && st.Mode {
		lines = append(lines,
			statusLine{path: []string{"FIPS140", "Module"}, value: "Go Cryptographic Module (GODEBUG=fips140=on) for " + strings.Join(st.Services, ", ")},
			statusLine{path: []string{"FIPS140", "Restricted"}, value: strings.Join(st.Restricted, ", ")})
	}
	return lines
}

// setFIPS sets FIPS 140 mode from the next boot. Turning it on needs
// export-controlled functionality.
func (h *handlers) setFIPS(ctx context.Context, value string, out *xapi.Writer) error {
	var on bool
	switch strings.ToLower(value) {
	case "on":
		on = true
	case "off":
	default:
		return fmt.Errorf("%w: FIPS140 Mode %q; use On or Off", ErrBadValue, value)
	}
	if on && h.hooks.ExportControlAllowed != nil {
		hctx, cancel := context.WithTimeout(ctx, hookTimeout)
		allowed, err := h.hooks.ExportControlAllowed(hctx)
		cancel()
		if err != nil {
			return fmt.Errorf("checking whether export-controlled functionality is allowed: %w; FIPS 140 mode is unchanged", err)
		}
		if !allowed {
			return ErrFIPSNotAllowed
		}
	}
	cur, err := LoadFIPSConfig(h.root)
	if err != nil {
		return err
	}
	if cur.Mode != on {
		if err := SaveFIPSConfig(h.root, FIPSConfig{Mode: on, Changed: h.clock.Now().UTC()}); err != nil {
			return err
		}
	}
	out.Config("SystemUnit FIPS140 Mode", onOff(on))
	if st, ok, _ := LoadFIPSStatus(h.root); !ok || st.Mode != on {
		out.Result("FIPS140", "takes effect after a restart")
	}
	return nil
}
