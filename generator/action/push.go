package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	// Jobs bounds how many charts are pushed at once; 0 means 4.
	Jobs int
	// Log receives a line per artifact when Progress is nil; nil discards them.
	Log io.Writer
	// Progress, when set, is called after each artifact with how many of
	// how many are done; calls do not overlap.
	Progress func(done, total int, r publish.Result)
	// Options are extra publisher options (credentials, transport).
	Options []publish.Option
}

// PushResult is what a push did, charts in release order, bundle last.
type PushResult struct {
	Target    string           `json:"target"`
	Artifacts []publish.Result `json:"artifacts"`
	// Bytes is the number of blob bytes uploaded.
	Bytes int64 `json:"bytes"`
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
	rel, charts, bundle, err := Artifacts(dir)
	if err != nil {
		return nil, err
	}
	opts := append([]publish.Option{publish.WithPlainHTTP(p.PlainHTTP)}, p.Options...)
	pub, err := publish.New(p.To, opts...)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	jobs := p.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	res := &PushResult{Target: p.To, Artifacts: make([]publish.Result, len(charts)+1)}
	var mu sync.Mutex
	done := 0
	report := func(r publish.Result) {
		mu.Lock()
		defer mu.Unlock()
		done++
		if p.Progress != nil {
			p.Progress(done, len(res.Artifacts), r)
		} else {
			p.logf(r)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, c := range rel.Components {
		g.Go(func() error {
			r, err := pub.Write(gctx, c.Chart.Repository, c.Chart.Tag, charts[i])
			if err != nil {
				return fmt.Errorf("component %q: %w", c.Name, err)
			}
			res.Artifacts[i] = r
			report(r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r, err := pub.Write(ctx, rel.Artifact.Repository, rel.Artifact.Tag, bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: %w", rel.Bundle, err)
	}
	res.Artifacts[len(charts)] = r
	report(r)
	for _, a := range res.Artifacts {
		res.Bytes += a.Bytes
	}
	return res, nil
}

func (p *Push) logf(r publish.Result) {
	if p.Log == nil {
		return
	}
	if r.Skipped {
		fmt.Fprintf(p.Log, "unchanged %s@%s\n", r.Ref, r.Digest)
		return
	}
	fmt.Fprintf(p.Log, "pushed    %s@%s (%d bytes)\n", r.Ref, r.Digest, r.Bytes)
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
	b, err := os.ReadFile(filepath.Join(dir, ReleaseFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &UsageError{Msg: fmt.Sprintf("%s has no %s: run distgen build first", dir, ReleaseFile)}
	}
	if err != nil {
		return nil, err
	}
	var rel api.Release
	if err := json.Unmarshal(b, &rel); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ReleaseFile), err)
	}
	return &rel, nil
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
