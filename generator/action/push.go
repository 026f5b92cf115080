package action

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/artifact"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/publish"
)

// Push publishes what Build wrote: every chart as a Helm OCI artifact, then
// the bundle's Flux objects as a Flux OCI artifact. The bundle is tagged
// last, after every chart it references is in place.
type Push struct {
	Project
	// From is a build's output directory; empty means dist/<bundle>.
	From string
	// To is oci://HOST/PREFIX or oci-layout:DIR.
	To string
	// PlainHTTP talks HTTP to a loopback registry.
	PlainHTTP bool
	// Jobs bounds how many charts are pushed at once; 0 means DefaultPushJobs.
	Jobs int
	// Log receives a line per artifact when Progress is nil; nil discards them.
	Log io.Writer
	// Progress, when set, is called after each artifact with how many of
	// how many are done; calls do not overlap.
	Progress func(done, total int, r publish.Result)
	// Options are extra publisher options (credentials, transport).
	Options []publish.Option
	// Force moves tags the target holds at other content; without it, such
	// a push fails before writing anything.
	Force bool
	// SignKey, when set, signs every artifact once all are pushed.
	SignKey *ecdsa.PrivateKey
	// DryRun writes nothing: the result lists what would be written (the
	// tags checked as a push checks them), each with its blob bytes.
	DryRun bool
	// Layout are options for a layout target (a fault hook, in tests).
	Layout []publish.LayoutOption
}

// PushResult is what a push did, charts in release order, bundle last.
type PushResult struct {
	Target    string           `json:"target"`
	Artifacts []publish.Result `json:"artifacts"`
	// Bytes is the number of blob bytes uploaded.
	Bytes int64 `json:"bytes"`
	// Signatures are the signature images written (push --sign).
	Signatures []publish.Result `json:"signatures,omitempty"`
	// DryRun: nothing was written; Artifacts and Bytes are what would be.
	DryRun bool `json:"dryRun,omitempty"`
}

// ErrStaleBuild is returned when a build's output no longer matches its
// release.json.
var ErrStaleBuild = errors.New("build output does not match its release.json; run distgen build again")

// Run pushes the release.
func (p *Push) Run(ctx context.Context) (*PushResult, error) {
	dir, err := p.dir()
	if err != nil {
		return nil, err
	}
	rel, images, bundle, err := Artifacts(dir)
	if err != nil {
		return nil, err
	}
	opts := append([]publish.Option{publish.WithPlainHTTP(p.PlainHTTP)}, p.Options...)
	var pub publish.Publisher
	switch dir, layout := strings.CutPrefix(p.To, publish.SchemeLayout); {
	case p.DryRun:
		pub, err = publish.Peek(p.To, opts...)
	case layout:
		pub, err = publish.NewLayout(dir, p.Layout...)
	default:
		pub, err = publish.New(p.To, opts...)
	}
	if err != nil {
		return nil, err
	}
	charts := make([]pushItem, len(rel.Components))
	for i, c := range rel.Components {
		charts[i] = pushItem{what: fmt.Sprintf("component %q", c.Name), ref: c.Chart, img: images[i]}
	}
	total, done := len(charts)+1, 0
	report := func(r publish.Result) {
		done++
		if p.Progress != nil {
			p.Progress(done, total, r)
		} else {
			logResult(p.Log, r)
		}
	}
	res, err := pushStages(ctx, pub, p.To, p.Jobs, p.Force, p.DryRun, report, charts, []pushItem{{what: fmt.Sprintf("bundle %q", rel.Bundle), ref: rel.Artifact, img: bundle}})
	if err != nil || p.SignKey == nil || p.DryRun {
		return res, err
	}
	signed, err := signArtifacts(ctx, p.To, p.PlainHTTP, p.Options, p.SignKey, p.Log, releaseArtifacts(rel))
	if err != nil {
		return res, err
	}
	res.Signatures = signed.Signatures
	return res, nil
}

// pushItem is one artifact to publish.
type pushItem struct {
	// what names it in errors.
	what string
	ref  api.ArtifactRef
	img  v1.Image
}

// DefaultPushJobs is how many artifacts a push sends at once. A push waits
// on the registry (a small blob costs three requests, each a few disk
// writes on the registry's side), not on the CPU: 8 in flight pushed a
// 100-chart release to a loopback distribution registry about 15% faster
// than 4.
const DefaultPushJobs = 8

// TagMovedError is a push that would point tags the target holds at other
// content. Each names the tag and both digests.
type TagMovedError struct{ Tags []MovedTag }

// MovedTag is one tag a push would move.
type MovedTag struct{ Ref, Target, Release string }

func (e *TagMovedError) Error() string {
	var b strings.Builder
	for i, t := range e.Tags {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "tag %s points at %s, this release has %s for it: bump the version, or push with --force to move the tag", t.Ref, t.Target, t.Release)
	}
	return b.String()
}

// pushStages publishes stages one after another, the artifacts of a stage
// at most jobs at once (0 means DefaultPushJobs), so an artifact is written only after
// everything an earlier stage holds. report is called after each artifact;
// calls do not overlap. Results keep the order of the stages and items.
//
// Before anything is written, every tag is looked up: one that the target
// holds at other content fails the push (a *TagMovedError) unless force is
// set, and one it holds at this content is not written again. A dry run
// stops there and reports what would be written.
func pushStages(ctx context.Context, pub publish.Publisher, target string, jobs int, force, dryRun bool, report func(publish.Result), stages ...[]pushItem) (*PushResult, error) {
	if jobs <= 0 {
		jobs = DefaultPushJobs
	}
	held, err := tagged(ctx, pub, jobs, stages)
	if err != nil {
		return nil, err
	}
	var moved []MovedTag
	for s, stage := range stages {
		for i, it := range stage {
			if h := held[s][i]; h != "" && h != it.ref.Digest {
				moved = append(moved, MovedTag{Ref: pub.Ref(it.ref.Repository, it.ref.Tag), Target: h, Release: it.ref.Digest})
			}
		}
	}
	if len(moved) > 0 && !force {
		return nil, &TagMovedError{Tags: moved}
	}
	res := &PushResult{Target: target, DryRun: dryRun}
	if dryRun {
		for s, stage := range stages {
			for i, it := range stage {
				r := publish.Result{Ref: pub.Ref(it.ref.Repository, it.ref.Tag), Digest: it.ref.Digest, Skipped: held[s][i] == it.ref.Digest}
				if !r.Skipped {
					if r.Bytes, err = publish.Size(it.img); err != nil {
						return nil, err
					}
				}
				res.Artifacts = append(res.Artifacts, r)
				res.Bytes += r.Bytes
			}
		}
		return res, nil
	}
	var mu sync.Mutex
	for s, stage := range stages {
		results := make([]publish.Result, len(stage))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(jobs)
		for i, it := range stage {
			g.Go(func() error {
				if held[s][i] == it.ref.Digest {
					results[i] = publish.Result{Ref: pub.Ref(it.ref.Repository, it.ref.Tag), Digest: it.ref.Digest, Skipped: true}
					mu.Lock()
					defer mu.Unlock()
					report(results[i])
					return nil
				}
				r, err := pub.Write(gctx, it.ref.Repository, it.ref.Tag, it.img)
				if err != nil {
					return fmt.Errorf("%s: %w", it.what, err)
				}
				results[i] = r
				mu.Lock()
				defer mu.Unlock()
				report(r)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		res.Artifacts = append(res.Artifacts, results...)
	}
	for _, a := range res.Artifacts {
		res.Bytes += a.Bytes
	}
	return res, nil
}

// tagged looks up what the target holds at every item's tag, at most jobs
// at once.
func tagged(ctx context.Context, pub publish.Publisher, jobs int, stages [][]pushItem) ([][]string, error) {
	held := make([][]string, len(stages))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for s, stage := range stages {
		held[s] = make([]string, len(stage))
		for i, it := range stage {
			g.Go(func() error {
				d, err := pub.Tagged(gctx, it.ref.Repository, it.ref.Tag)
				if err != nil {
					return fmt.Errorf("%s: %w", it.what, err)
				}
				held[s][i] = d
				return nil
			})
		}
	}
	return held, g.Wait()
}

// logResult writes a line about a published artifact to w, if any.
func logResult(w io.Writer, r publish.Result) {
	if w == nil {
		return
	}
	if r.Skipped {
		fmt.Fprintf(w, "unchanged %s@%s\n", r.Ref, r.Digest)
		return
	}
	fmt.Fprintf(w, "pushed    %s@%s (%d bytes)\n", r.Ref, r.Digest, r.Bytes)
}

// dir is the build output to push.
func (p *Push) dir() (string, error) {
	if p.From != "" {
		return p.From, nil
	}
	root, err := load.FindRoot(p.Dir)
	if err != nil {
		return "", err
	}
	name := p.Bundle
	if name == "" {
		proj, err := load.Project(root)
		if err != nil {
			return "", err
		}
		b, err := load.Bundle(proj, "")
		if err != nil {
			return "", err
		}
		name = b.Name
	}
	return filepath.Join(root, "dist", name), nil
}

// Artifacts reads a build's output directory and rebuilds its artifacts
// from the files there. Every digest must equal the one release.json
// recorded at build time, so what is pushed is what was built.
func Artifacts(dir string) (*api.Release, []v1.Image, v1.Image, error) {
	rel, err := readRelease(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	created, err := time.Parse(time.RFC3339, rel.ReleaseDate)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: releaseDate: %w", ReleaseFile, err)
	}
	charts := make([]v1.Image, len(rel.Components))
	for i, c := range rel.Components {
		archive, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c.Chart.File)))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("component %q: %w", c.Name, err)
		}
		if sum := sha256.Sum256(archive); hex.EncodeToString(sum[:]) != c.Chart.SHA256 {
			return nil, nil, nil, fmt.Errorf("component %q: %s changed since the build: %w", c.Name, c.Chart.File, ErrStaleBuild)
		}
		img, err := artifact.Chart(archive, created, c.Images)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("component %q: %w", c.Name, err)
		}
		if err := sameDigest(img, c.Chart.Digest); err != nil {
			return nil, nil, nil, fmt.Errorf("component %q: %w", c.Name, err)
		}
		charts[i] = img
	}
	files, err := readArtifactFiles(filepath.Join(dir, "flux"))
	if err != nil {
		return nil, nil, nil, err
	}
	bundle, err := artifact.Bundle(files, BundleMeta(rel.Bundle, rel.Version, created, rel.PlatformImages))
	if err != nil {
		return nil, nil, nil, err
	}
	if err := sameDigest(bundle, rel.Artifact.Digest); err != nil {
		return nil, nil, nil, fmt.Errorf("bundle %q: flux/: %w", rel.Bundle, err)
	}
	return rel, charts, bundle, nil
}

// readArtifactFiles reads the files of a Flux artifact's directory.
func readArtifactFiles(root string) ([]artifact.File, error) {
	var files []artifact.File
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files = append(files, artifact.File{Path: filepath.ToSlash(rel), Data: data})
		return err
	})
	return files, err
}

// readRelease reads the release.json of a build's output directory.
func readRelease(dir string) (*api.Release, error) {
	var rel api.Release
	return &rel, readReleaseFile(dir, "distgen build", &rel)
}

// readReleaseFile decodes the release.json in dir into rel; build names the
// command that writes it.
func readReleaseFile(dir, build string, rel any) error {
	b, err := os.ReadFile(filepath.Join(dir, ReleaseFile))
	if errors.Is(err, os.ErrNotExist) {
		return &UsageError{Msg: fmt.Sprintf("%s has no %s: run %s first", dir, ReleaseFile, build)}
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, rel); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, ReleaseFile), err)
	}
	return nil
}

func sameDigest(img v1.Image, want string) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if d.String() != want {
		return fmt.Errorf("digest %s, release.json says %s: %w", d, want, ErrStaleBuild)
	}
	return nil
}
