//go:build unix

package guard

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the command in a new process group and makes the
// context's cancellation kill the whole group, so children the command
// started (a shell's pipeline) die with it instead of holding its output
// open.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		killProcessGroup(cmd)
		return nil
	}
}

// killProcessGroup kills the command's process group.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
