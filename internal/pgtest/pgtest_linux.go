package pgtest

import "syscall"

// setPdeathsig shuts postgres down (SIGQUIT: immediate shutdown) if the test
// binary dies without running its cleanups.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
