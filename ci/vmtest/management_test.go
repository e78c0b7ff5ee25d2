package vmtest

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"vxway/vm"
)

// TestManagementInterface boots a VM with a second NIC on its own QEMU
// user network, each NIC with its own forwarded SSH and HTTPS ports. The
// interface is dedicated to management from the admin shell (refused
// without an address), and after the restart SSH and HTTPS answer on the
// management NIC's ports and not on the first NIC's.
func TestManagementInterface(t *testing.T) {
	img := Image(t)
	mgmt := &vm.ManagementNIC{SSHPort: freePort(t), HTTPSPort: freePort(t)}
	v := Boot(t, img, func(o *vm.Options) { o.Management = mgmt })
	begin := time.Now()
	v.WaitReady(t)
	// eth0's DHCP lease may come after ready on a loaded machine.
	for deadline := time.Now().Add(CommandTimeout); v.SSHLogin("admin", DefaultAdminPassword) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("SSH on the first NIC does not answer")
		}
		time.Sleep(2 * time.Second)
	}

	out, code := v.SSH(t, "admin", DefaultAdminPassword, "xconfiguration Interfaces Management Interface: eth1")
	if code == 0 || !strings.Contains(out, "has no address") {
		t.Errorf("the interface without an address: exit %d\n%s", code, out)
	}
	wantLines(t, "management interface", adminLines(t, v,
		"xconfiguration Interfaces Management Address: "+vm.ManagementGuestAddr+"/24",
		"xconfiguration Interfaces Management Interface: eth1",
		"xconfiguration Interfaces Management"),
		"*c xConfiguration Interfaces Management Interface: eth1",
		`*c xConfiguration Interfaces Management Address: "`+vm.ManagementGuestAddr+`/24"`,
		`*r Interfaces Management: "takes effect after a restart"`)

	v.Login(t, "root", DefaultRootPassword)
	v.Reboot(t)
	t.Logf("restarted with the management interface %s after the first ready", time.Since(begin).Round(time.Second))

	sshTo := func(port int) error {
		c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &ssh.ClientConfig{
			User: "admin", Auth: []ssh.AuthMethod{ssh.Password(DefaultAdminPassword)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second,
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	httpsTo := func(port int) error {
		c, err := tls.DialWithDialer(&netDialer, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := sshTo(mgmt.SSHPort); err != nil {
		t.Errorf("SSH on the management NIC: %v", err)
	}
	if err := httpsTo(mgmt.HTTPSPort); err != nil {
		t.Errorf("HTTPS on the management NIC: %v", err)
	}
	if err := sshTo(v.SSHPort); err == nil {
		t.Error("SSH still answers on the first NIC")
	}
	if err := httpsTo(v.HTTPSPort); err == nil {
		t.Error("HTTPS still answers on the first NIC")
	}
	t.Logf("VM time %s", time.Since(begin).Round(time.Second))
}

var netDialer = net.Dialer{Timeout: 20 * time.Second}
