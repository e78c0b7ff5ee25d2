package supervise

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the service in its own process group, so that Stop
// reaches the programs it starts too, running as cred (nil: as the
// supervisor).
func setProcAttr(cmd *exec.Cmd, cred *syscall.Credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// signalGroup sends SIGTERM (or SIGKILL when kill is set) to the process
// group of a started command.
func signalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	}
}
