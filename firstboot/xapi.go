package firstboot

import (
	"context"
	"fmt"
	"time"

	"vxway/xapi"
)

// RegisterXAPI adds `xstatus Provisioning` to t, for the device under root:
// the seed applied (source, instance id, time, licensing progress), when
// provisioning was closed without one, and the outcome of the latest boot
// that found a seed, problems included.
func RegisterXAPI(t *xapi.Tree, root string) {
	t.Handle(xapi.Status, "Provisioning", func(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
		st, err := LoadState(root)
		if err != nil {
			return err
		}
		status := "NotProvisioned"
		if st.Provisioned() {
			status = "Provisioned"
		}
		out.Status("Provisioning Status", status)
		if st.Provisioned() {
			out.Status("Provisioning InstanceId", st.InstanceID)
			out.Status("Provisioning Source", st.Source)
			out.Status("Provisioning Applied", st.AppliedAt.UTC().Format(time.RFC3339))
			out.Status("Provisioning Summary", st.Summary)
		}
		if st.Closed() {
			out.Status("Provisioning Closed", st.ClosedAt.UTC().Format(time.RFC3339))
		}
		if st.Licensing != "" {
			out.Status("Provisioning Licensing", st.Licensing)
			if st.LicensingDetail != "" {
				out.Status("Provisioning LicensingDetail", st.LicensingDetail)
			}
		}
		if l := st.Last; l != nil {
			out.Status("Provisioning Result", l.Result)
			out.Status("Provisioning Last Time", l.At.UTC().Format(time.RFC3339))
			out.Status("Provisioning Last Source", l.Source)
			out.Status("Provisioning Last InstanceId", l.InstanceID)
			for i, p := range l.Problems {
				out.Status(fmt.Sprintf("Provisioning Last Problem %d", i+1), p)
			}
		} else if !st.Provisioned() {
			out.Status("Provisioning Result", "NoSeed")
		}
		return nil
	})
}
