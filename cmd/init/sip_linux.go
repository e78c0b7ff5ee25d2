package main

import (
	"vxway/servercert"
	"vxway/sipclient"
	"vxway/smbios"
)

// sipArgs is sipserver's command line: the server certificate for TLS,
// and the hypervisor's advertised address when it gives a valid one.
func (d *device) sipArgs() []string {
	args := []string{"--root", d.root, "--tls-cert", d.path(servercert.CertPath), "--tls-key", d.path(servercert.KeyPath)}
	strs, err := smbios.OEMStrings(d.root)
	if err != nil {
		d.logf("sipserver: %v; no advertised address from the hypervisor", err)
		return args
	}
	v, ok := smbios.Value(strs, sipclient.AdvertiseOEMKey)
	if !ok {
		return args
	}
	if _, err := sipclient.ParseAdvertise(v); err != nil {
		d.logf("sipserver: the hypervisor's %s: %v; ignored", sipclient.AdvertiseOEMKey, err)
		return args
	}
	d.logf("sipserver: advertising %s from the hypervisor (xconfiguration SIP Advertise Address overrides it)", v)
	return append(args, "--advertise", v)
}
