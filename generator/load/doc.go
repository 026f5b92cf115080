// Package load is the first step of distgen's flow and the only package that
// touches cue.Value. It loads a project's CUE (versions.cue and the bundles
// package) with the embedded schemas overlaid, validates it as concrete,
// decodes it into plain api types and runs the checks that span components.
// Every problem is reported at once, each with file:line:col or the
// component it concerns.
package load
