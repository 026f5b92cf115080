// Package flux is the render step for Flux objects: from a plan and the
// digests of its charts it builds, with the Flux API Go types, the
// Namespaces, OCIRepositories and HelmReleases that install a bundle, and a
// kustomization.yaml listing them, serialised in a stable order.
package flux
