// Package chart is the render step for charts: with the Helm v4 SDK it turns
// a planned component into a packaged chart (its first-party chart directory,
// or a wrapper around vendored upstream charts), lints it, renders it once
// with its values so template errors surface at build time, and packages it
// byte-reproducibly with the release date as every mtime.
package chart
