// Package serve serves a release written as an OCI image layout as a
// read-only OCI registry, for sites that bootstrap from a laptop: blobs are
// read from the layout's blob directory, manifests are loaded once.
package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/generator/store"
)

// Handler serves the OCI layout at dir as a read-only registry. Each image
// named "repo:tag" in the layout's index is served as PREFIX/repo:tag
// (prefix may be empty). It returns the references it serves, sorted.
//
// The layout is not trusted: a name that is not a repository and tag by
// the OCI distribution grammar is not served, a manifest must hash to the
// digest the index gives it, and a blob is served only if it is a regular
// file in the layout that hashes to its name (checked once, before its
// first byte is sent).
func Handler(src store.Store, prefix string) (http.Handler, []string, error) {
	m, err := src.Index()
	if err != nil {
		return nil, nil, err
	}
	store := &blobs{s: src, verified: map[v1.Hash]bool{}}
	reg := registry.New(registry.WithBlobHandler(store), registry.Logger(log.New(io.Discard, "", 0)))
	prefix = strings.Trim(prefix, "/")
	var refs []string
	for _, desc := range m.Manifests {
		ref := desc.Annotations[publish.AnnotationRefName]
		repo, tag, ok := strings.Cut(ref, ":")
		if !ok || !repoRE.MatchString(repo) || !tagRE.MatchString(tag) || len(repo) > 255 {
			continue // not a name a registry could serve
		}
		if prefix != "" {
			repo = prefix + "/" + repo
		}
		raw, err := store.closure(desc.Digest, desc.MediaType)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ref, err)
		}
		// Load the manifest through the registry's own API, which checks
		// that every blob it references is there.
		req, err := http.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, bytes.NewReader(raw))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", string(desc.MediaType))
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			return nil, nil, fmt.Errorf("%s: %s", ref, strings.TrimSpace(rec.Body.String()))
		}
		refs = append(refs, repo+":"+tag)
	}
	sort.Strings(refs)
	return readOnly(reg), refs, nil
}

// readOnly refuses every request that would change the registry, and
// answers 404 to a request whose URL has no absolute path (such as "A:"),
// on which go-containerregistry's registry panics.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"no such path"}]}`)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprint(w, `{"errors":[{"code":"UNSUPPORTED","message":"this registry is read-only"}]}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// The OCI distribution grammar of repository names and tags.
var (
	repoRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// blobs serves the blobs of a store, each checked whole against its digest
// once before its first byte is sent.
type blobs struct {
	s        store.Store
	mu       sync.Mutex
	verified map[v1.Hash]bool
}

// open opens the blob h, after checking it once.
func (b *blobs) open(h v1.Hash) (io.ReadCloser, int64, error) {
	b.mu.Lock()
	ok := b.verified[h]
	b.mu.Unlock()
	if !ok {
		rc, _, err := b.s.Blob(h)
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, registry.ErrNotFound
		}
		if err != nil {
			return nil, 0, err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("blob %s in the layout is damaged: %w", h, err)
		}
		b.mu.Lock()
		b.verified[h] = true
		b.mu.Unlock()
	}
	rc, size, err := b.s.Blob(h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, registry.ErrNotFound
	}
	return rc, size, err
}

func (b *blobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	rc, size, err := b.open(h)
	if err != nil {
		return 0, err
	}
	rc.Close()
	return size, nil
}

func (b *blobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	rc, _, err := b.open(h)
	return rc, err
}

// read reads a blob of the layout, checked against h.
func (b *blobs) read(h v1.Hash) ([]byte, error) {
	f, _, err := b.open(h)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return nil, fmt.Errorf("blob %s is not a regular file in the layout", h)
		}
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// closure checks the manifest h of the given media type and every blob it
// names (an index's manifests, in turn), and returns the manifest.
func (b *blobs) closure(h v1.Hash, mt types.MediaType) ([]byte, error) {
	raw, err := b.read(h)
	if err != nil {
		return nil, err
	}
	if mt.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", h, err)
		}
		for _, m := range idx.Manifests {
			if _, err := b.closure(m.Digest, m.MediaType); err != nil {
				return nil, err
			}
		}
		return raw, nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		f, _, err := b.open(d.Digest)
		if errors.Is(err, registry.ErrNotFound) {
			return nil, fmt.Errorf("blob %s is not a regular file in the layout", d.Digest)
		}
		if err != nil {
			return nil, err
		}
		f.Close()
	}
	return raw, nil
}
