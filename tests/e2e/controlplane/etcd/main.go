// etcd built from the pinned go.etcd.io/etcd/server/v3 module (see go.mod).
// Same entry point as go.etcd.io/etcd/v3 main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
