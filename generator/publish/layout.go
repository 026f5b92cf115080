package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
)

// AnnotationRefName names an image in an OCI layout's index.
const AnnotationRefName = "org.opencontainers.image.ref.name"

// Layout publishes into an OCI image layout directory. Each image is named
// in the index by "repo:tag" (AnnotationRefName), as skopeo and crane
// address images in a layout.
type Layout struct {
	path layout.Path
	// mu serialises index.json updates.
	mu sync.Mutex
}

// NewLayout opens the layout at dir, creating an empty one if needed.
func NewLayout(dir string) (*Layout, error) {
	if dir == "" {
		return nil, errors.New("empty layout directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		p, err := layout.FromPath(dir)
		if err != nil {
			return nil, fmt.Errorf("opening OCI layout %s: %w", dir, err)
		}
		return &Layout{path: p}, nil
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	return &Layout{path: p}, nil
}

// Ref implements Publisher.
func (l *Layout) Ref(repo, tag string) string { return repo + ":" + tag }

// Write implements Publisher.
func (l *Layout) Write(ctx context.Context, repo, tag string, img v1.Image) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	ref := l.Ref(repo, tag)
	res := Result{Ref: ref, Digest: d.String()}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.has(ref, d) {
		res.Skipped = true
		return res, nil
	}
	layers, err := img.Layers()
	if err != nil {
		return res, err
	}
	for _, layer := range layers {
		h, err := layer.Digest()
		if err != nil {
			return res, err
		}
		if _, err := os.Stat(filepath.Join(string(l.path), "blobs", h.Algorithm, h.Hex)); err == nil {
			continue
		}
		n, err := layer.Size()
		if err != nil {
			return res, err
		}
		res.Bytes += n
	}
	if err := l.path.ReplaceImage(img, match.Annotation(AnnotationRefName, ref), layout.WithAnnotations(map[string]string{AnnotationRefName: ref})); err != nil {
		return res, fmt.Errorf("writing %s to the layout: %w", ref, err)
	}
	return res, l.sortIndex()
}

// sortIndex orders the index by reference name, so the same artifacts give
// the same index.json whatever order they were written in.
func (l *Layout) sortIndex() error {
	idx, err := l.path.ImageIndex()
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	sorted := m.DeepCopy()
	sort.SliceStable(sorted.Manifests, func(i, j int) bool {
		return sorted.Manifests[i].Annotations[AnnotationRefName] < sorted.Manifests[j].Annotations[AnnotationRefName]
	})
	b, err := json.MarshalIndent(sorted, "", "   ")
	if err != nil {
		return err
	}
	return l.path.WriteFile("index.json", b, 0o644)
}

// Tagged implements Publisher.
func (l *Layout) Tagged(ctx context.Context, repo, tag string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.path.ImageIndex()
	if err != nil {
		return "", err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	ref := l.Ref(repo, tag)
	for _, desc := range m.Manifests {
		if desc.Annotations[AnnotationRefName] == ref {
			return desc.Digest.String(), nil
		}
	}
	return "", nil
}

// has reports whether the index names ref with digest d.
func (l *Layout) has(ref string, d v1.Hash) bool {
	idx, err := l.path.ImageIndex()
	if err != nil {
		return false
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return false
	}
	for _, desc := range m.Manifests {
		if desc.Annotations[AnnotationRefName] == ref && desc.Digest == d {
			return true
		}
	}
	return false
}
