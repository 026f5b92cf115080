package publish

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/distgen/distgen/generator/store"
)

// Store is where a release lives: a registry under a prefix, an OCI layout
// directory, or an archive of one. It is the one way distgen reaches OCI
// content: push, mirror, sign, verify and bootstrap read and write through
// it. What it reads is checked against its digest (a registry's content by
// go-containerregistry as it is read, a layout's or an archive's by
// package store); what it writes is checked on the way in (a registry
// refuses an upload that does not match its digest, a layout writes
// through a checked temporary file), and a write of what a tag already
// holds is skipped and reported as such.
type Store interface {
	Publisher
	// Image reads repo at a tag or a digest; an error wrapping ErrNotFound
	// when the store does not hold it.
	Image(ctx context.Context, repo, ref string) (v1.Image, error)
	// Close releases the store.
	Close() error
}

// ErrNotFound is returned for content a store does not hold.
var ErrNotFound = store.ErrNotFound

// Local is a store on this machine (a layout or an archive), whose blobs
// can be read one by one.
type Local interface {
	Store
	Blobs() store.Store
}

// Open opens the store at target: oci://HOST/PREFIX, oci-layout:DIR, or a
// FILE.tar archive of a layout, read in place (an archive is read-only
// here; mirror writes archives).
func Open(target string, opts ...Option) (Store, error) {
	switch {
	case strings.HasPrefix(target, SchemeRegistry):
		return NewRegistry(strings.TrimPrefix(target, SchemeRegistry), opts...)
	case strings.HasPrefix(target, SchemeLayout):
		dir := strings.TrimPrefix(target, SchemeLayout)
		if _, err := store.Open(dir); err != nil {
			return nil, err
		}
		return NewLayout(dir)
	case IsArchive(target):
		a, err := store.OpenArchive(target)
		if err != nil {
			return nil, err
		}
		return &Archive{a: a}, nil
	default:
		return nil, &TargetError{fmt.Sprintf("unknown location %q: want oci://HOST/PREFIX, oci-layout:DIR or FILE.tar", target)}
	}
}

// IsArchive reports whether a target names a .tar archive of a layout
// rather than a registry or a layout directory.
func IsArchive(target string) bool {
	return strings.HasSuffix(target, ".tar") && !strings.HasPrefix(target, SchemeRegistry) && !strings.HasPrefix(target, SchemeLayout)
}

// Image implements Store.
func (r *Registry) Image(ctx context.Context, repo, ref string) (v1.Image, error) {
	var nopts []name.Option
	if r.opts.plainHTTP {
		nopts = append(nopts, name.Insecure)
	}
	sep := ":"
	if strings.HasPrefix(ref, "sha256:") {
		sep = "@"
	}
	nr, err := name.ParseReference(r.prefix+"/"+repo+sep+ref, nopts...)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(nr, r.remoteOptions(ctx)...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s: %w", nr, ErrNotFound)
	}
	return img, err
}

// Close implements Store.
func (r *Registry) Close() error { return nil }

// Prefix is the registry's HOST/PREFIX.
func (r *Registry) Prefix() string { return r.prefix }

// Image implements Store.
func (l *Layout) Image(ctx context.Context, repo, ref string) (v1.Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	refs, err := l.refIndex()
	if err != nil {
		return nil, err
	}
	return refs.image(store.Dir(l.dir), repo, ref)
}

// refIndex is the layout's index.json by reference, parsed again only
// when the file was replaced (another inode, size or time): a release of
// a thousand charts is read without parsing its index a thousand times.
func (l *Layout) refIndex() (refIndex, error) {
	fi, err := os.Stat(filepath.Join(l.dir, "index.json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	l.readMu.Lock()
	defer l.readMu.Unlock()
	if l.refs != nil && fi != nil && l.refsOf != nil && os.SameFile(fi, l.refsOf) && fi.Size() == l.refsOf.Size() && fi.ModTime().Equal(l.refsOf.ModTime()) {
		return l.refs, nil
	}
	idx, err := store.Dir(l.dir).Index()
	if err != nil {
		return nil, err
	}
	l.refs, l.refsOf = newRefIndex(idx), fi
	return l.refs, nil
}

// Close implements Store.
func (l *Layout) Close() error { return nil }

// Blobs implements Local.
func (l *Layout) Blobs() store.Store { return store.Dir(l.dir) }

// Dir is the layout's directory.
func (l *Layout) Dir() string { return l.dir }

// Archive is a layout archive read in place; it is not written.
type Archive struct {
	a    *store.Archive
	once sync.Once
	refs refIndex
	err  error
}

// Ref implements Publisher.
func (a *Archive) Ref(repo, tag string) string { return repo + ":" + tag }

// Tagged implements Publisher.
func (a *Archive) Tagged(_ context.Context, repo, tag string) (string, error) {
	idx, err := a.a.Index()
	if err != nil {
		return "", err
	}
	for _, d := range idx.Manifests {
		if d.Annotations[AnnotationRefName] == repo+":"+tag {
			return d.Digest.String(), nil
		}
	}
	return "", nil
}

// Write implements Publisher: an archive is not written in place.
func (a *Archive) Write(context.Context, string, string, v1.Image) (Result, error) {
	return Result{}, errors.New("an archive is not written in place: mirror into it")
}

// Image implements Store.
func (a *Archive) Image(_ context.Context, repo, ref string) (v1.Image, error) {
	a.once.Do(func() {
		idx, err := a.a.Index()
		a.refs, a.err = newRefIndex(idx), err
	})
	if a.err != nil {
		return nil, a.err
	}
	return a.refs.image(a.a, repo, ref)
}

// Blobs implements Local.
func (a *Archive) Blobs() store.Store { return a.a }

// Close implements Store.
func (a *Archive) Close() error { return a.a.Close() }

// refIndex finds the manifests of an index by reference: "REPO:TAG" and
// "REPO@DIGEST"; the first of the index's entries wins.
type refIndex map[string]v1.Descriptor

func newRefIndex(idx *v1.IndexManifest) refIndex {
	refs := refIndex{}
	if idx == nil {
		return refs
	}
	for _, d := range idx.Manifests {
		repo, tag, _ := strings.Cut(d.Annotations[AnnotationRefName], ":")
		for _, k := range []string{repo + ":" + tag, repo + "@" + d.Digest.String()} {
			if _, ok := refs[k]; !ok {
				refs[k] = d
			}
		}
	}
	return refs
}

// image reads repo:tag, or an image of repo by digest, from s.
func (r refIndex) image(s store.Store, repo, ref string) (v1.Image, error) {
	d, ok := r[repo+":"+ref]
	if !ok {
		d, ok = r[repo+"@"+ref]
	}
	if !ok {
		return nil, fmt.Errorf("no %s %s: %w", repo, ref, ErrNotFound)
	}
	return store.Image(s, d)
}

// Peek opens target (as New names it, or FILE.tar) to look at, not to
// write: a layout or archive that does not exist yet holds nothing, and
// nothing is created. A dry run asks it what it holds.
func Peek(target string, opts ...Option) (Publisher, error) {
	if strings.HasPrefix(target, SchemeLayout) || IsArchive(target) {
		if _, err := os.Stat(strings.TrimPrefix(target, SchemeLayout)); errors.Is(err, fs.ErrNotExist) {
			return nothing{}, nil
		}
		return Open(target, opts...)
	}
	return New(target, opts...)
}

// nothing is a target that does not exist yet: it holds no tag.
type nothing struct{}

func (nothing) Ref(repo, tag string) string { return repo + ":" + tag }
func (nothing) Tagged(context.Context, string, string) (string, error) {
	return "", nil
}
func (nothing) Write(context.Context, string, string, v1.Image) (Result, error) {
	return Result{}, errors.New("a dry run writes nothing")
}

// Size is the bytes of an image's config and layers: what writing it
// sends at most.
func Size(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
