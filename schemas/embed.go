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

// Wants says, in a user's terms, what each constraint definition asks
// for; distgen's errors say it instead of printing the CUE.
var Wants = map[string]string{
	"#Name":            "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 53 characters",
	"#SemVer":          "must be SemVer 2.0.0, such as 1.2.3 or 1.2.3-rc.1",
	"#UpstreamVersion": "must be SemVer 2.0.0 with an optional leading v, such as v1.2.3",
	"#Duration":        "must be a duration such as 30s, 5m, 1h",
	"#Timestamp":       "must be an RFC 3339 time in UTC, such as 2026-01-02T03:04:05Z",
	"#CRDPolicy":       "must be one of Skip, Create, CreateReplace",
	"#PodSecurity":     "must be one of privileged, baseline, restricted",
	"#Strategy":        "must be one of RemediateOnFailure, RetryOnFailure",
	"#DriftMode":       "must be one of enabled, warn, disabled",
	"#Quantity":        "must be a Kubernetes quantity such as 500m, 4, 16Gi",
}
