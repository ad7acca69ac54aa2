//go:build !unix

package rollback

import "os/exec"

// killGroupOnCancel leaves cmd's cancellation as it is: without process
// groups, only the hook's own process is killed.
func killGroupOnCancel(cmd *exec.Cmd) {}
