package action

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/distgen/distgen/generator/publish"
)

// Promote copies a release to another registry (staging to production)
// by digest, without rebuilding it: the bundle, every chart it pins, the
// images and the signatures, skipping what the target already holds. With
// Tag, the bundle is tagged there too (1.2.0-rc.1 promoted as 1.2.0): the
// same bytes under a second tag, so its digest, the charts it pins and its
// signatures are the ones that were tested. The bundle keeps the version
// it was built as in its annotations.
type Promote struct {
	// From is oci://HOST/PREFIX/bundles/NAME:VERSION (or a layout or an
	// archive, with Bundle); To is oci://HOST/PREFIX.
	From, Bundle, To string
	// Tag, when set, is the bundle's tag in the target.
	Tag string
	// Force lets Tag move from other content.
	Force     bool
	PlainHTTP bool
	Jobs      int
	Log       io.Writer
}

// PromoteResult is what a promotion copied and tagged.
type PromoteResult struct {
	*MirrorResult
	// Tagged is the bundle's new tag in the target, when one was asked.
	Tagged *publish.Result `json:"tagged,omitempty"`
}

// Run promotes the release.
func (p *Promote) Run(ctx context.Context) (*PromoteResult, error) {
	if !strings.HasPrefix(p.To, publish.SchemeRegistry) {
		return nil, &UsageError{Msg: fmt.Sprintf("--to %q: promote copies to a registry, oci://HOST/PREFIX (mirror writes layouts and archives)", p.To)}
	}
	if p.Tag != "" {
		if _, err := name.NewTag("registry.invalid/repo:" + p.Tag); err != nil || strings.ContainsAny(p.Tag, ":@/") {
			return nil, &UsageError{Msg: fmt.Sprintf("--tag %q: not an OCI tag (letters, digits, '_', '.', '-', at most 128)", p.Tag)}
		}
	}
	dst, err := publish.Open(p.To, publish.WithPlainHTTP(p.PlainHTTP))
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	defer dst.Close()
	src, rel, err := openRelease(ctx, p.From, p.Bundle, p.PlainHTTP)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	// The new tag is checked before anything is copied, so a promotion
	// that would move it writes nothing.
	repo := rel.Bundle.Repository
	if p.Tag != "" {
		held, err := dst.Tagged(ctx, repo, p.Tag)
		if err != nil {
			return nil, err
		}
		if held != "" && held != rel.Bundle.Digest && !p.Force {
			return nil, &TagMovedError{Tags: []MovedTag{{Ref: dst.Ref(repo, p.Tag), Target: held, Release: rel.Bundle.Digest}}}
		}
	}
	mres, err := (&Mirror{To: p.To, PlainHTTP: p.PlainHTTP, Jobs: p.Jobs, Log: p.Log}).copy(ctx, src, rel)
	if err != nil {
		return nil, err
	}
	res := &PromoteResult{MirrorResult: mres}
	if p.Tag == "" {
		return res, nil
	}
	bundle := mres.Release.Bundle
	img, err := dst.Image(ctx, repo, bundle.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading back %s@%s: %w", repo, bundle.Digest, err)
	}
	r, err := dst.Write(ctx, repo, p.Tag, img)
	if err != nil {
		return nil, err
	}
	if r.Digest != bundle.Digest {
		return nil, fmt.Errorf("tagging %s: wrote %s, want %s", dst.Ref(repo, p.Tag), r.Digest, bundle.Digest)
	}
	res.Tagged = &r
	if p.Log != nil {
		fmt.Fprintf(p.Log, "tagged  %s@%s\n", r.Ref, r.Digest)
	}
	return res, nil
}
