package vmtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"vxway/vm"
)

// withUUID gives the VM another SMBIOS UUID, hence another serial.
func withUUID(u string) Option { return func(o *vm.Options) { o.UUID = u } }

const backupPassword = "Backup-pass-2026"

// scp copies with the host's OpenSSH scp (SFTP protocol) as root, the
// password coming from an askpass script; from and to name the remote
// side as "root@127.0.0.1:PATH".
func scp(t *testing.T, v *VM, from, to string) {
	t.Helper()
	if _, err := exec.LookPath("scp"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("scp is missing: install openssh-client")
		}
		t.Skip("scp is missing: install openssh-client")
	}
	ask := filepath.Join(t.TempDir(), "askpass")
	if err := os.WriteFile(ask, []byte("#!/bin/sh\necho '"+RootPassword+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("scp", "-P", fmt.Sprint(v.SSHPort), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=password", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30", from, to)
	cmd.Env = append(os.Environ(), "SSH_ASKPASS="+ask, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scp %s %s: %v\n%s", from, to, err, out)
	}
}

// adminLines runs xAPI lines over SSH as admin and fails the test unless
// every answer is OK.
func adminLines(t *testing.T, v *VM, lines ...string) string {
	t.Helper()
	out, code := v.SSH(t, "admin", DefaultAdminPassword, strings.Join(lines, "\n"))
	if code != 0 {
		t.Fatalf("%s: exit %d:\n%s", strings.Join(lines, "; "), code, out)
	}
	return out
}

// restoreAndRestart asks for a restore over SSH as admin; the device
// answers, then restarts, which may end the session before its exit
// status. It returns the answer once the device is ready again.
func restoreAndRestart(t *testing.T, v *VM, name string) string {
	t.Helper()
	c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", v.SSHPort), &ssh.ClientConfig{
		User: "admin", Auth: []ssh.AuthMethod{ssh.Password(DefaultAdminPassword)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: CommandTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.CombinedOutput(fmt.Sprintf("xcommand Backup Restore File: %q Password: %q", name, backupPassword))
	c.Close()
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("restore refused (exit %d):\n%s", exit.ExitStatus(), out)
	}
	if !strings.Contains(string(out), `*r Backup Restore Apply: "restarting now`) {
		t.Fatalf("restore answered:\n%s", out)
	}
	v.WaitFor(t, "backup: restored", BootTimeout)
	v.WaitReady(t)
	return string(out)
}

// registered waits for xstatus License Smart to show Registered (over SSH).
func waitRegistered(t *testing.T, v *VM) string {
	t.Helper()
	deadline := time.Now().Add(registrationLimit)
	for {
		out := adminLines(t, v, "xstatus License Smart")
		if r, _ := xstatusValue(out, "License Smart Registration Status"); r == "Registered" {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("not Registered after %s:\n%s", registrationLimit, out)
		}
		time.Sleep(2 * time.Second)
	}
}

// TestBackup: two VMs of different identities and the real manager. A
// registered device is backed up and the archive copied off with scp; the
// device is factory reset, the archive copied back and restored: it is
// registered again without a token, with its other settings back. The
// same archive restored on the other VM brings the settings but not the
// registration: that device says to register with a token and does, and
// the first device's registration on the manager is untouched.
func TestBackup(t *testing.T) {
	RequireVM(t)
	mgr := startSSM(t, guestHostAddr, "127.0.0.1", "localhost")
	mgr.Run(t, "account", "create", "Acme")
	mgr.Run(t, "va", "create", "--account", "Acme", "Sales")
	mgr.Run(t, "license", "add", "--va", "Sales", "--type", "rms", "--count", "10")
	tokenA := mgr.Token(t, "--va", "Sales", "--uses", "1", "--export-control")
	tokenB := mgr.Token(t, "--va", "Sales", "--uses", "1", "--export-control")
	url := mgr.URL(guestHostAddr)
	img := Image(t, WithTrustedCA(mgr.CAPEM))
	host := t.TempDir()

	archive := make(chan string, 1) // the archive's name, in host
	aDone := make(chan struct{})
	var udiA string
	begin := time.Now()
	t.Run("devices", func(t *testing.T) {
		t.Run("A", func(t *testing.T) {
			t.Parallel()
			defer close(aDone)
			v := Boot(t, img, withUUID("0b0ac0de-0000-4000-8000-00000000000a"))
			mark := func(what string) { t.Logf("A: %s at %s", what, time.Since(begin).Round(100*time.Millisecond)) }
			v.WaitReady(t)
			mark("ready")
			v.SetRootPassword(t, DefaultRootPassword, RootPassword)
			mark("root password set")
			unit := adminLines(t, v, "xstatus SystemUnit")
			udiA, _ = xstatusValue(unit, "SystemUnit Hardware UDI")
			adminLines(t, v,
				"xconfiguration License Smart Transport Mode: OnPrem",
				fmt.Sprintf("xconfiguration License Smart Transport URL: %q", url),
				"xconfiguration DNS Domain Name: backup.test",
				fmt.Sprintf("xcommand License Smart Register Token: %q", tokenA))
			waitRegistered(t, v)
			mark("registered")
			// FIPS 140 mode (allowed: the token allows export-controlled
			// functionality) goes into the backup; it is in force after
			// the restore's restart.
			wantLines(t, "FIPS 140 mode on", adminLines(t, v, "xconfiguration SystemUnit FIPS140 Mode: On", "xstatus SystemUnit FIPS140"),
				`*s SystemUnit FIPS140 Mode: "Off"`, `*s SystemUnit FIPS140 Configured: "On"`, `*s SystemUnit FIPS140 RestartRequired: "Yes"`)

			t0 := time.Now()
			made := adminLines(t, v, fmt.Sprintf("xcommand Backup Create Password: %q", backupPassword))
			t.Logf("Backup Create took %s", time.Since(t0).Round(100*time.Millisecond))
			file, ok := xstatusValue(made, "Backup Create File")
			if !ok || !strings.HasPrefix(file, "/data/backup/") {
				t.Fatalf("Backup Create answered:\n%s", made)
			}
			name := filepath.Base(file)
			scp(t, v, "root@127.0.0.1:"+name, filepath.Join(host, name))
			archive <- name
			mark("backup made and copied off")

			// Factory reset keeping the passwords (root copies the archive
			// back over SSH): registration and domain are gone.
			resetAndWait(t, v, RootPassword, "-p --yes")
			mark("factory reset done")
			st := adminLines(t, v, "xstatus License Smart")
			if r, _ := xstatusValue(st, "License Smart Registration Status"); r == "Registered" {
				t.Fatalf("still registered after the factory reset:\n%s", st)
			}
			// Not kept without -f.
			wantLines(t, "FIPS 140 after a reset without -f", adminLines(t, v, "xstatus SystemUnit FIPS140"),
				`*s SystemUnit FIPS140 Mode: "Off"`, `*s SystemUnit FIPS140 Configured: "Off"`)
			scp(t, v, filepath.Join(host, name), "root@127.0.0.1:"+name)
			ans := restoreAndRestart(t, v, name)
			mark("restored and ready")
			wantLines(t, "restore answer (same device)", ans, `*r Backup Restore Registration: "Restored`)
			st = waitRegistered(t, v)
			if id, _ := xstatusValue(st, "License Smart InstanceId"); id != udiA {
				t.Errorf("registered as %q, want %q", id, udiA)
			}
			wantLines(t, "restored settings", adminLines(t, v, "xconfiguration DNS", "xstatus Backup", "xstatus SystemUnit FIPS140"),
				"*c xConfiguration DNS Domain Name: backup.test",
				`*s Backup LastRestore Result: "Applied"`, `*s Backup LastRestore SameDevice: "Yes"`,
				`*s SystemUnit FIPS140 Mode: "On"`)
			checkFIPS(t, v)
			t.Logf("device A done %s after the test began", time.Since(begin).Round(time.Second))
		})
		t.Run("B", func(t *testing.T) {
			t.Parallel()
			v := Boot(t, img, withUUID("0b0ac0de-0000-4000-8000-00000000000b"))
			mark := func(what string) { t.Logf("B: %s at %s", what, time.Since(begin).Round(100*time.Millisecond)) }
			v.WaitReady(t)
			mark("ready")
			v.SetRootPassword(t, DefaultRootPassword, RootPassword)
			mark("root password set")
			var name string
			select {
			case name = <-archive:
			case <-aDone:
				t.Fatal("device A made no backup")
			}
			scp(t, v, filepath.Join(host, name), "root@127.0.0.1:"+name)
			mark("archive copied on")
			ans := restoreAndRestart(t, v, name)
			mark("restored and ready")
			wantLines(t, "restore answer (other device)", ans, `*r Backup Restore Registration: "Not restored`)
			out := adminLines(t, v, "xstatus License Smart", "xconfiguration License Smart", "xconfiguration DNS", "xstatus Backup")
			wantLines(t, "other device after the restore", out,
				`*s License Smart Registration Status: "Unregistered"`,
				`*s License Smart Enabled: "On"`,
				"*c xConfiguration License Smart Transport Mode: OnPrem",
				"*c xConfiguration DNS Domain Name: backup.test",
				`*s Backup LastRestore SameDevice: "No"`)
			if w, _ := xstatusValue(out, "License Smart Warning"); !strings.Contains(w, "new token") {
				t.Errorf("License Smart Warning %q does not say to register with a token", w)
			}
			// FIPS 140 mode came with the backup: B registers through
			// the FIPS 140-3 module.
			wantLines(t, "FIPS 140 on B", adminLines(t, v, "xstatus SystemUnit FIPS140"), `*s SystemUnit FIPS140 Mode: "On"`)
			adminLines(t, v, fmt.Sprintf("xcommand License Smart Register Token: %q", tokenB))
			st := waitRegistered(t, v)
			if id, _ := xstatusValue(st, "License Smart InstanceId"); id == "" || id == udiA {
				t.Errorf("device B registered as %q (device A is %q)", id, udiA)
			}
			t.Logf("device B done %s after the test began", time.Since(begin).Round(time.Second))
		})
	})
	if t.Failed() {
		return
	}
	// Device A's registration on the manager was not disturbed by B.
	list := mgr.Instances(t)
	in, ok := instanceOf(list, udiA)
	if !ok {
		t.Errorf("device A on the manager: %+v (found %v); instances: %+v", in, ok, list)
	}
	if len(list) != 2 {
		t.Errorf("the manager lists %d instances, want 2: %+v", len(list), list)
	}
	t.Logf("both devices: %s", time.Since(begin).Round(time.Second))
}

// checkFIPS checks a device in FIPS 140 mode: the licensing agent runs
// with the FIPS 140-3 module (its log says so), and SSH refuses a client
// that offers only Curve25519 while serving one with ECDH P-256.
func checkFIPS(t *testing.T, v *VM) {
	t.Helper()
	if out, _ := v.SSH(t, "root", RootPassword, "cat /data/log/smartagent.log"); !strings.Contains(out, "FIPS 140-3 mode: the Go Cryptographic Module") {
		t.Errorf("the agent's log does not say it runs in FIPS 140-3 mode:\n%s", out)
	}
	dial := func(kex string) error {
		c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", v.SSHPort), &ssh.ClientConfig{
			Config: ssh.Config{KeyExchanges: []string{kex}},
			User:   "admin", Auth: []ssh.AuthMethod{ssh.Password(DefaultAdminPassword)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: CommandTimeout,
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(ssh.KeyExchangeCurve25519); err == nil {
		t.Error("SSH in FIPS 140 mode accepted Curve25519")
	}
	if err := dial(ssh.KeyExchangeECDHP256); err != nil {
		t.Errorf("SSH in FIPS 140 mode refused ECDH P-256: %v", err)
	}
}
