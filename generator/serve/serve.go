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
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/distgen/distgen/generator/publish"
)

// Handler serves the OCI layout at dir as a read-only registry. Each image
// named "repo:tag" in the layout's index is served as PREFIX/repo:tag
// (prefix may be empty). It returns the references it serves, sorted.
func Handler(dir, prefix string) (http.Handler, []string, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	reg := registry.New(registry.WithBlobHandler(blobs{dir: dir}), registry.Logger(log.New(io.Discard, "", 0)))
	prefix = strings.Trim(prefix, "/")
	var refs []string
	for _, desc := range m.Manifests {
		ref := desc.Annotations[publish.AnnotationRefName]
		repo, tag, ok := strings.Cut(ref, ":")
		if !ok {
			continue
		}
		if prefix != "" {
			repo = prefix + "/" + repo
		}
		raw, err := os.ReadFile(blobPath(dir, desc.Digest))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ref, err)
		}
		// Load the manifest through the registry's own API, which checks
		// that every blob it references is there.
		req := httptest.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, bytes.NewReader(raw))
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

// readOnly refuses every request that would change the registry.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprint(w, `{"errors":[{"code":"UNSUPPORTED","message":"this registry is read-only"}]}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// blobs reads blobs from the layout's content-addressed blob directory.
type blobs struct{ dir string }

func blobPath(dir string, h v1.Hash) string {
	return filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
}

func (b blobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(blobPath(b.dir, h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (b blobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(blobPath(b.dir, h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}
