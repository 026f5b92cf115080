// Package e2e proves distgen's releases against a real cluster side: etcd
// and an OCI registry from Debian, kube-apiserver and Flux's source, helm
// and kustomize controllers built from the Go module proxy, all processes
// on 127.0.0.1 (stack.sh builds them). Its tests carry the e2e build tag;
// make e2e runs them.
package e2e
