//go:build !linux

package miniotest

import "syscall"

func setPdeathsig(*syscall.SysProcAttr) {}
