// Package vm boots a vxway image in QEMU with OVMF: virtio disk and
// network, the serial console on the caller's streams, host ports forwarded
// to the guest's HTTPS and SSH, KVM when it works and software emulation
// (TCG) otherwise.
//
// The SMBIOS UUID and the MAC address are derived from the image's path,
// so a VM keeps its identity (the device's serial number) across boots.
package vm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"vxway/image"
	"vxway/sipclient"
)

// Options describe one VM.
type Options struct {
	// Image is the raw disk image to boot (written to by the guest).
	Image string
	// StateDir holds the writable OVMF variables and generated disks; a
	// temporary directory when empty (removed by Cleanup).
	StateDir string
	// ProvisionDisk is a VXPROV disk (see MakeProvisionDisk) attached as
	// the second virtio disk.
	ProvisionDisk string
	// ExtraDisks are raw images attached after it.
	ExtraDisks []string
	// HTTPSPort and SSHPort are host ports on 127.0.0.1 forwarded to the
	// guest's 443 and 22 (0: not forwarded).
	HTTPSPort, SSHPort int
	// SIPPort is a host port on 127.0.0.1 forwarded (UDP and TCP) to the
	// guest's SIP 5060, and SIPPort+1 (TCP) to its SIP over TLS 5061
	// (0: not forwarded).
	SIPPort int
	// RTCBase is QEMU's -rtc base: "utc" (default), "localtime" or a time
	// like "2026-01-01T00:00:00".
	RTCBase string
	// MemoryMiB is the guest RAM (default 1024).
	MemoryMiB int
	// CPUs is the number of virtual CPUs (default 2 with KVM, 1 under
	// TCG: multi-threaded TCG races the kernel's live code patching and
	// oopses at random; more than one TCG vCPU runs single-threaded).
	CPUs int
	// Accel is "auto" (default: KVM when it works, else TCG), "kvm" or "tcg".
	Accel string
	// UUID overrides the SMBIOS UUID derived from the image path.
	UUID string
	// Management adds a second NIC (the guest's eth1) on its own user
	// network, 10.0.3.0/24, with these host ports on 127.0.0.1 forwarded
	// to ManagementGuestAddr's 443 and 22 (the dedicated management
	// interface, docs/management-interface.md); nil: one NIC.
	Management *ManagementNIC
	// Link adds a second NIC (the guest's eth1) on a private network of
	// two VMs: a QEMU socket network on host loopback, where the VM with
	// Listen set listens on 127.0.0.1:Port and the other connects to it
	// (start the listening one first). Nothing else on the host is
	// touched. It cannot be combined with Management.
	Link *LinkNIC
}

// LinkNIC is one end of a two-VM socket network.
type LinkNIC struct {
	Port   int
	Listen bool
}

// ManagementGuestAddr is the address the management NIC's forwards reach;
// give it to the guest's eth1.
const ManagementGuestAddr = "10.0.3.15"

// ManagementNIC is the second NIC's forwarded host ports (0: not
// forwarded).
type ManagementNIC struct {
	HTTPSPort, SSHPort int
}

// VM is a prepared QEMU invocation.
type VM struct {
	// Args is the full QEMU command line.
	Args []string
	// Accel is "kvm" or "tcg".
	Accel string
	// UUID and MAC identify the machine.
	UUID, MAC string
	cleanup   func()
}

// Cleanup removes the temporary state of the VM.
func (v *VM) Cleanup() {
	if v.cleanup != nil {
		v.cleanup()
	}
}

// Command returns the QEMU process of the VM with the given streams as its
// serial console.
func (v *VM) Command(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) *exec.Cmd {
	cmd := exec.CommandContext(ctx, v.Args[0], v.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd
}

// Describe is the one-line start message: accelerator and forwards.
func (v *VM) Describe(o Options) string {
	accel := "KVM"
	if v.Accel == "tcg" {
		accel = "software emulation (TCG, no usable KVM)"
	}
	s := fmt.Sprintf("booting %s with %s, uuid %s, mac %s", o.Image, accel, v.UUID, v.MAC)
	if o.HTTPSPort != 0 {
		s += fmt.Sprintf(", HTTPS https://127.0.0.1:%d", o.HTTPSPort)
	}
	if o.SSHPort != 0 {
		s += fmt.Sprintf(", SSH 127.0.0.1 port %d", o.SSHPort)
	}
	if o.SIPPort != 0 {
		s += fmt.Sprintf(", SIP 127.0.0.1 port %d (UDP, TCP) and %d (TLS)", o.SIPPort, o.SIPPort+1)
	}
	return s
}

// Firmware is the OVMF code and variables template pair.
type Firmware struct{ Code, Vars string }

// FindFirmware returns the OVMF pair of Debian's ovmf package.
func FindFirmware() (Firmware, error) {
	for _, f := range []Firmware{
		{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
		{"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
	} {
		if exists(f.Code) && exists(f.Vars) {
			return f, nil
		}
	}
	return Firmware{}, fmt.Errorf("%w: no OVMF code/vars pair in /usr/share/OVMF: ovmf (install with: apt-get install -y ovmf)", image.ErrHostPackage)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Identity derives the SMBIOS UUID and MAC of an image from its absolute path.
func Identity(imagePath string) (uuid, mac string, err error) {
	abs, err := filepath.Abs(imagePath)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256([]byte("vxway vm\x00" + abs))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	uuid = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	mac = fmt.Sprintf("52:54:00:%02x:%02x:%02x", sum[16], sum[17], sum[18])
	return uuid, mac, nil
}

// New checks the host and the options and prepares the VM: finds QEMU and
// OVMF, copies the OVMF variables, picks the accelerator.
func New(o Options) (*VM, error) {
	if err := image.RequireHost(image.PkgQEMU, image.PkgOVMF); err != nil {
		return nil, err
	}
	fw, err := FindFirmware()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(o.Image)
	if err != nil {
		return nil, fmt.Errorf("image: %w (build it with `vxway build`)", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("image %s is a directory", o.Image)
	}
	for _, d := range append([]string{o.ProvisionDisk}, o.ExtraDisks...) {
		if d != "" && !exists(d) {
			return nil, fmt.Errorf("disk %s not found", d)
		}
	}
	if o.SIPPort < 0 || o.SIPPort > 65534 {
		return nil, fmt.Errorf("SIP host port %d out of range 1-65534 (it and the next port are forwarded)", o.SIPPort)
	}
	if o.SIPPort != 0 && (o.SIPPort == o.HTTPSPort || o.SIPPort == o.SSHPort || o.SIPPort+1 == o.HTTPSPort || o.SIPPort+1 == o.SSHPort) {
		return nil, fmt.Errorf("the SIP host ports %d and %d overlap the HTTPS or SSH port: choose another --sip-port", o.SIPPort, o.SIPPort+1)
	}
	for _, p := range []int{o.HTTPSPort, o.SSHPort} {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("host port %d out of range 1-65535", p)
		}
	}
	if o.HTTPSPort != 0 && o.HTTPSPort == o.SSHPort {
		return nil, fmt.Errorf("the HTTPS and SSH host ports are both %d: choose two ports", o.HTTPSPort)
	}
	if o.Link != nil {
		if o.Management != nil {
			return nil, fmt.Errorf("the second NIC is either the management network or the VM link, not both")
		}
		if o.Link.Port < 1 || o.Link.Port > 65535 {
			return nil, fmt.Errorf("VM link port %d out of range 1-65535", o.Link.Port)
		}
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 1024
	}
	if o.RTCBase == "" {
		o.RTCBase = "utc"
	}
	v := &VM{}
	switch o.Accel {
	case "", "auto":
		v.Accel = "tcg"
		if KVMWorks(image.PkgQEMU.Find()) {
			v.Accel = "kvm"
		}
	case "kvm", "tcg":
		v.Accel = o.Accel
	default:
		return nil, fmt.Errorf("accelerator %q: use auto, kvm or tcg", o.Accel)
	}
	v.UUID, v.MAC, err = Identity(o.Image)
	if err != nil {
		return nil, err
	}
	if o.UUID != "" {
		v.UUID = o.UUID
	}
	state := o.StateDir
	if state == "" {
		state, err = os.MkdirTemp("", "vxway-vm-")
		if err != nil {
			return nil, fmt.Errorf("creating VM state dir: %w", err)
		}
		v.cleanup = func() { os.RemoveAll(state) }
	}
	vars := filepath.Join(state, "OVMF_VARS.fd")
	if !exists(vars) {
		b, err := os.ReadFile(fw.Vars)
		if err != nil {
			return nil, fmt.Errorf("reading OVMF variables: %w", err)
		}
		if err := os.WriteFile(vars, b, 0o644); err != nil {
			return nil, fmt.Errorf("copying OVMF variables: %w", err)
		}
	}

	args := []string{image.PkgQEMU.Find(), "-name", "vxway", "-machine", "q35"}
	if v.Accel == "kvm" {
		if o.CPUs == 0 {
			o.CPUs = 2
		}
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		if o.CPUs == 0 {
			o.CPUs = 1
		}
		accel := "tcg"
		if o.CPUs > 1 {
			accel = "tcg,thread=single"
		}
		// The full "max" model: with svm=off (which would spare the
		// kernel's KVM driver setup, 0.2-0.45 s of each boot) root's
		// console shell failed at once, unable to read its working
		// directory (getwd: no such file or directory).
		args = append(args, "-accel", accel, "-cpu", "max")
	}
	args = append(args,
		"-m", strconv.Itoa(o.MemoryMiB), "-smp", strconv.Itoa(o.CPUs),
		"-uuid", v.UUID,
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+fw.Code,
		"-drive", "if=pflash,format=raw,unit=1,file="+vars,
		"-drive", "if=none,id=disk0,format=raw,file="+o.Image,
		"-device", "virtio-blk-pci,drive=disk0,bootindex=1",
	)
	for i, d := range append([]string{o.ProvisionDisk}, o.ExtraDisks...) {
		if d == "" {
			continue
		}
		id := fmt.Sprintf("disk%d", i+1)
		args = append(args, "-drive", "if=none,id="+id+",format=raw,file="+d, "-device", "virtio-blk-pci,drive="+id)
	}
	netdev := "user,id=net0"
	if o.HTTPSPort != 0 {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:443", o.HTTPSPort)
	}
	if o.SSHPort != 0 {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:22", o.SSHPort)
	}
	if o.SIPPort != 0 {
		netdev += fmt.Sprintf(",hostfwd=udp:127.0.0.1:%d-:5060,hostfwd=tcp:127.0.0.1:%d-:5060,hostfwd=tcp:127.0.0.1:%d-:5061", o.SIPPort, o.SIPPort, o.SIPPort+1)
	}
	args = append(args,
		// romfile= keeps the firmware from loading the NIC's network-boot
		// ROM: the disk is the only boot device, and under software
		// emulation the ROM costs boot time.
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=net0,mac="+v.MAC+",romfile=",
	)
	if m := o.Management; m != nil {
		mgmt := "user,id=net1,net=10.0.3.0/24"
		if m.HTTPSPort != 0 {
			mgmt += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-%s:443", m.HTTPSPort, ManagementGuestAddr)
		}
		if m.SSHPort != 0 {
			mgmt += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-%s:22", m.SSHPort, ManagementGuestAddr)
		}
		args = append(args, "-netdev", mgmt, "-device", "virtio-net-pci,netdev=net1,mac="+secondMAC(v.MAC)+",romfile=")
	}
	if l := o.Link; l != nil {
		end := "connect"
		if l.Listen {
			end = "listen"
		}
		args = append(args, "-netdev", fmt.Sprintf("socket,id=net1,%s=127.0.0.1:%d", end, l.Port), "-device", "virtio-net-pci,netdev=net1,mac="+secondMAC(v.MAC)+",romfile=")
	}
	args = append(args,
		"-device", "virtio-rng-pci",
		"-rtc", "base="+o.RTCBase+",clock=host",
		"-nographic", "-serial", "mon:stdio",
	)
	if o.SIPPort != 0 {
		// The guest's SIP proxy is reached at the forwarded port: it
		// puts that address in Record-Route and Via (docs/sip.md).
		args = append(args, "-smbios", fmt.Sprintf("type=11,value=%s=127.0.0.1:%d", sipclient.AdvertiseOEMKey, o.SIPPort))
	}
	v.Args = args
	return v, nil
}

// String is the command line, quoted where needed, for logs.
func (v *VM) String() string {
	q := make([]string, len(v.Args))
	for i, a := range v.Args {
		q[i] = a
		if strings.ContainsAny(a, " \t\"'") {
			q[i] = strconv.Quote(a)
		}
	}
	return strings.Join(q, " ")
}

// secondMAC is the second NIC's MAC: the first's with its last byte
// one higher.
func secondMAC(mac string) string {
	return mac[:len(mac)-2] + fmt.Sprintf("%02x", (parseHexByte(mac[len(mac)-2:])+1)&0xff)
}

func parseHexByte(s string) int {
	n, _ := strconv.ParseUint(s, 16, 8)
	return int(n)
}
