// Package schemas embeds the CUE schemas so that the distgen binary carries
// the one copy of them that the plain cue CLI reads from this directory.
package schemas

import "embed"

// FS holds the *.cue files of this directory.
//
//go:embed *.cue
var FS embed.FS

// ImportPath is the CUE import path bundles use for these schemas.
const ImportPath = "github.com/distgen/distgen/schemas"

// Module is the CUE module that holds the schemas.
const Module = "github.com/distgen/distgen@v0"
