package publish

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Publisher stores artifacts under repositories relative to its target.
type Publisher interface {
	// Write stores img as repo:tag ("charts/cilium", "1.0.0").
	Write(ctx context.Context, repo, tag string, img v1.Image) (Result, error)
	// Ref names repo:tag as a user would address it through this publisher.
	Ref(repo, tag string) string
	// Tagged returns the digest repo:tag points at, or "" when the target
	// has no such tag.
	Tagged(ctx context.Context, repo, tag string) (string, error)
}

// Result is what one Write did.
type Result struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	// Skipped is true when the target already held this content at the tag.
	Skipped bool `json:"skipped"`
	// Bytes is the number of blob bytes uploaded (0 when skipped).
	Bytes int64 `json:"bytes"`
}

// TargetError is a target or location named wrong: a scheme distgen does
// not know, a malformed registry prefix, plain HTTP to a host that is not
// loopback. It is the user's to fix.
type TargetError struct{ Msg string }

func (e *TargetError) Error() string { return e.Msg }

// Target kinds for New.
const (
	SchemeRegistry = "oci://"
	SchemeLayout   = "oci-layout:"
)

// New returns the store a release is written to: oci://HOST/PREFIX or
// oci-layout:DIR (created if need be).
func New(target string, opts ...Option) (Store, error) {
	switch {
	case strings.HasPrefix(target, SchemeRegistry):
		return NewRegistry(strings.TrimPrefix(target, SchemeRegistry), opts...)
	case strings.HasPrefix(target, SchemeLayout):
		return NewLayout(strings.TrimPrefix(target, SchemeLayout))
	default:
		return nil, &TargetError{fmt.Sprintf("unknown target %q: want oci://HOST/PREFIX or oci-layout:DIR", target)}
	}
}
