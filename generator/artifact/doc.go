// Package artifact is the artifact step of distgen's flow: it turns a
// packaged chart into a Helm OCI artifact and a bundle's Flux objects into a
// Flux OCI artifact, as go-containerregistry images. Both are built from
// bytes alone with the release date as their only timestamp, so their
// manifest digests are known at build time and equal what a push produces.
package artifact
