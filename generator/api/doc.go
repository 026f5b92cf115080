// Package api holds the plain Go types that flow through distgen: what load
// decodes from CUE (Project, Bundle, Component), what build writes
// (Release), and the OCI media types and annotation keys artifacts carry.
// It imports no CUE, Helm or network code.
package api
