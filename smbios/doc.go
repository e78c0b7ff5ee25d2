// Package smbios reads the OEM strings (SMBIOS type 11) the hypervisor
// gives the machine, the way `vxway run` hands the device settings that
// belong to one run rather than to the disk (the forwarded SIP port:
// docs/sip.md). QEMU sets them with `-smbios type=11,value=...`; the
// kernel shows the raw table at sys/firmware/dmi/tables/DMI.
package smbios
