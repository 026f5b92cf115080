// Package upstream fetches the upstream charts that wrapper charts depend
// on, from OCI registries and classic HTTPS Helm repositories, verifies them
// (pinned digest, archive safety, name and version), and keeps them in a
// content-addressed cache and a lock file, so builds after the first fetch
// need no network.
package upstream
