package miniotest

import "syscall"

// setPdeathsig kills minio if the test binary dies without running its
// cleanups.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
