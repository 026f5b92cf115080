package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/upstream"
)

// Vendor fetches every upstream chart the project's bundles wrap, verifies
// it, records its digest in the lock beside versions.cue the first time,
// and keeps it in the content-addressed cache, so builds need no network.
type Vendor struct {
	// Dir is the project root or a directory below it.
	Dir string
	// Fetcher downloads charts; nil means one with default settings.
	Fetcher *upstream.Fetcher
	// Cache is where archives are kept; empty means the default cache.
	Cache upstream.Cache
	// Log receives a line per chart; nil discards them.
	Log io.Writer
}

// Vendored is what vendoring did for one chart.
type Vendored struct {
	Chart  api.Upstream `json:"chart"`
	Digest string       `json:"digest"`
	// Source is "cache" or "fetched".
	Source string `json:"source"`
}

// Run vendors the charts, sorted by repository, name and version. Charts
// that fail are reported together; the others are still locked.
func (v *Vendor) Run(ctx context.Context) ([]Vendored, error) {
	proj, err := loadProject(v.Dir)
	if err != nil {
		return nil, err
	}
	cache, fetcher, lock, err := vendoring(v.Cache, v.Fetcher, proj.Root)
	if err != nil {
		return nil, err
	}
	var out []Vendored
	var errs []error
	for _, u := range upstreams(proj) {
		got, err := vendorOne(ctx, fetcher, cache, lock, u)
		if err != nil {
			errs = append(errs, upstreamError(u, err, ""))
			continue
		}
		if v.Log != nil {
			fmt.Fprintf(v.Log, "%-7s %s %s %s\n", got.Source, u.Name, u.Version, got.Digest)
		}
		out = append(out, got)
	}
	if lock.Changed() {
		if err := lock.Write(proj.Root); err != nil {
			return nil, err
		}
	}
	return out, errors.Join(errs...)
}

// upstreamError names the chart that failed: the user's error (exit 1)
// unless the network or the repository was at fault (exit 2); hint, when
// set, says what to do next.
func upstreamError(u api.Upstream, err error, hint string) error {
	msg := fmt.Sprintf("upstream chart %s %s from %s: %v%s", u.Name, u.Version, u.Repository, err, hint)
	if upstream.Unreachable(err) {
		return errors.New(msg)
	}
	return &UsageError{Msg: msg}
}

// vendoring returns what vendoring needs: cache and fetcher, or the
// defaults for the zero ones, and the project's lock.
func vendoring(cache upstream.Cache, fetcher *upstream.Fetcher, root string) (upstream.Cache, *upstream.Fetcher, *upstream.Lock, error) {
	if cache.Dir == "" {
		var err error
		if cache, err = upstream.DefaultCache(); err != nil {
			return cache, nil, nil, err
		}
	}
	if fetcher == nil {
		fetcher = &upstream.Fetcher{}
	}
	lock, err := upstream.ReadLock(root)
	return cache, fetcher, lock, err
}

func vendorOne(ctx context.Context, f *upstream.Fetcher, cache upstream.Cache, lock *upstream.Lock, u api.Upstream) (Vendored, error) {
	want := u.Digest
	if e := lock.Get(u); e != nil {
		if want != "" && e.Digest != want {
			return Vendored{}, fmt.Errorf("%w: pinned %s, locked %s", upstream.ErrDigestMismatch, want, e.Digest)
		}
		want = e.Digest
	}
	if want != "" {
		if _, ok := cache.Get(want); ok {
			return Vendored{Chart: u, Digest: want, Source: "cache"}, nil
		}
	}
	fetched, err := f.Fetch(ctx, u)
	if err != nil {
		return Vendored{}, err
	}
	if err := upstream.Verify(fetched.Archive, u, want); err != nil {
		return Vendored{}, err
	}
	d, err := cache.Put(fetched.Archive)
	if err != nil {
		return Vendored{}, err
	}
	lock.Set(u, d, fetched.Manifest)
	return Vendored{Chart: u, Digest: d, Source: "fetched"}, nil
}

// upstreams lists the upstream charts of every bundle once, sorted.
func upstreams(p *api.Project) []api.Upstream {
	seen := map[string]api.Upstream{}
	for _, b := range p.Bundles {
		for _, c := range b.Components {
			for _, u := range c.Chart.Upstream {
				key := u.Repository + "\x00" + u.Name + "\x00" + u.Version
				if prev, ok := seen[key]; !ok || (prev.Digest == "" && u.Digest != "") {
					u.Alias = ""
					seen[key] = u
				}
			}
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]api.Upstream, len(keys))
	for i, k := range keys {
		out[i] = seen[k]
	}
	return out
}
