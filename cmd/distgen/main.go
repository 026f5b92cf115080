// Command distgen builds Kubernetes platform distributions: Helm charts and
// the Flux objects that install them, from CUE bundles.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
