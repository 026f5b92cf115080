// Package tests holds distgen's end-to-end tests: the repository's own
// bundles built through the real actions, checked against golden files, for
// byte-for-byte reproducibility, against the real helm and cue CLIs, and
// against an in-process OCI registry.
package tests
