//go:build !unix

package guard

import "os/exec"

// ownProcessGroup leaves the default: cancellation kills the process
// itself; WaitDelay still bounds the wait for its children's output.
func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(*exec.Cmd) {}
