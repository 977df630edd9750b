package main

import (
	"os"
	"runtime"

	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/libcontainer"
)

// `ocirun init` runs on the main thread, locked from package init on, as
// runc's does: some of its attributes can only be set by the thread-group
// leader (the SELinux keyring label, /proc/self/attr/keycreate), and the
// others belong to the thread that execs.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
	}
}

var initCommand = &cli.Command{
	Name:   "init",
	Usage:  "initialize the namespaces and launch the process (do not call it outside of ocirun)",
	Hidden: true,
	Action: func(*cli.Context) error {
		libcontainer.Init()
		return nil
	},
}
