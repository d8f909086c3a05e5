// kubectl built from the pinned module graph (see ../../go.mod): the e2e scripts and docs use it for
// inspection and server-side dry runs. Same entry point as k8s.io/kubernetes/cmd/kubectl/kubectl.go,
// without the client auth plugins (the e2e uses client certificates).
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		// Pretty-print the error and exit with an error.
		util.CheckErr(err)
	}
}
