//go:build !unix

package pgtest

import "os/exec"

type account struct{}

func unprivileged() (*account, error) { return nil, nil }
func chown(string, *account) error    { return nil }
func asUser(*exec.Cmd, *account)      {}
