package action

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/internal/atomicfile"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/upstream"
	"github.com/distgen/distgen/generator/versions"
)

// Bump raises versions in the project's versions.cue, editing its syntax
// tree so that comments and layout stay and cue fmt stays clean: a
// component's chart version, an upstream chart's version (which raises the
// component's chart version by Level too, unless Chart says what to), or
// the release's. A version lower than the one pinned is refused unless
// AllowDowngrade. The project must still load after the edit, or the file
// is put back.
//
// In a project that locks its upstream charts (versions.lock.json), a new
// upstream version is fetched, verified and locked as distgen vendor would,
// unless NoLock; when that fails, versions.cue is put back too.
type Bump struct {
	// Dir is the project root or a directory below it.
	Dir string
	// Component to bump; empty with Release alone.
	Component string
	// Chart is the component's new chart version.
	Chart string
	// Upstream is NAME=VERSION, an upstream chart the component wraps.
	Upstream string
	// Level raises the chart version when only Upstream is given
	// (default patch).
	Level versions.Level
	// Release is the distribution's new version.
	Release        string
	AllowDowngrade bool
	// NoLock leaves a new upstream version unlocked (offline).
	NoLock bool
	// Fetcher and Cache are as for Vendor (nil and empty: the defaults).
	Fetcher *upstream.Fetcher
	Cache   upstream.Cache
}

// BumpResult lists what a bump changed.
type BumpResult struct {
	File    string   `json:"file"`
	Changes []Change `json:"changes"`
	// Hints say what is left to do (an upstream version to vendor).
	Hints []string `json:"hints,omitempty"`
	// Locked are the upstream charts fetched and locked.
	Locked []Vendored `json:"locked,omitempty"`
}

// Change is one version changed, at its position in versions.cue.
type Change struct {
	Pos  string `json:"pos,omitempty"`
	Path string `json:"path"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Run edits versions.cue.
func (b *Bump) Run(ctx context.Context) (*BumpResult, error) {
	switch {
	case b.Component == "" && b.Release == "":
		return nil, &UsageError{Msg: "name a component (with --chart or --upstream), or --release"}
	case b.Component != "" && b.Chart == "" && b.Upstream == "":
		return nil, &UsageError{Msg: fmt.Sprintf("component %q: say what to bump: --chart X.Y.Z or --upstream NAME=VERSION", b.Component)}
	case b.Component == "" && (b.Chart != "" || b.Upstream != ""):
		return nil, &UsageError{Msg: "--chart and --upstream need a component"}
	}
	if b.Level == "" {
		b.Level = versions.Patch
	}
	root, err := load.FindRoot(b.Dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, load.VersionsFile)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := versions.Parse(load.VersionsFile, src)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	res := &BumpResult{File: path}
	var relock string // the upstream chart to fetch and lock
	set := func(to string, p ...string) error {
		from, pos, err := f.Get(p...)
		if err != nil {
			return &UsageError{Msg: err.Error()}
		}
		cmp, err := versions.Compare(to, from)
		if err != nil {
			return &UsageError{Msg: fmt.Sprintf("%s: %v", strings.Join(p, "."), err)}
		}
		if cmp < 0 && !b.AllowDowngrade {
			return &UsageError{Msg: fmt.Sprintf("%s: %s: %s is lower than %s: refusing a downgrade without --allow-downgrade", pos, strings.Join(p, "."), to, from)}
		}
		if cmp == 0 && to == from {
			return nil
		}
		if err := f.Set(to, p...); err != nil {
			return &UsageError{Msg: err.Error()}
		}
		res.Changes = append(res.Changes, Change{Pos: pos.String(), Path: strings.Join(p, "."), From: from, To: to})
		return nil
	}
	if b.Release != "" {
		if err := set(b.Release, "versions", "distribution"); err != nil {
			return nil, err
		}
	}
	if b.Component != "" {
		comp := []string{"versions", "components", b.Component}
		chart := b.Chart
		if b.Upstream != "" {
			name, version, ok := strings.Cut(b.Upstream, "=")
			if !ok || name == "" || version == "" {
				return nil, &UsageError{Msg: fmt.Sprintf("--upstream %q: want NAME=VERSION", b.Upstream)}
			}
			n := len(res.Changes)
			if err := set(version, append(comp, "upstream", name)...); err != nil {
				return nil, err
			}
			if chart == "" && len(res.Changes) > n {
				old, _, err := f.Get(append(comp, "chart")...)
				if err != nil {
					return nil, &UsageError{Msg: err.Error()}
				}
				if chart, err = versions.Next(old, b.Level); err != nil {
					return nil, &UsageError{Msg: err.Error()}
				}
			}
			if lock, err := upstream.ReadLock(root); err == nil && !slices.ContainsFunc(lock.Charts, func(l upstream.Locked) bool { return l.Name == name && l.Version == version }) {
				if _, err := os.Stat(filepath.Join(root, upstream.LockFile)); err == nil && !b.NoLock {
					relock = name
				} else {
					res.Hints = append(res.Hints, fmt.Sprintf("upstream chart %s %s is not locked yet: distgen vendor fetches it and records its digest in %s", name, version, upstream.LockFile))
				}
			}
		}
		if chart != "" {
			if err := set(chart, append(comp, "chart")...); err != nil {
				return nil, err
			}
		}
	}
	if len(res.Changes) == 0 {
		return res, nil
	}
	out, err := f.Bytes()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, out); err != nil {
		return nil, err
	}
	// The project must still load: a version the schema refuses puts the
	// file back as it was; so does a new upstream version that cannot be
	// fetched and locked.
	putBack := func(err error) error {
		if rerr := atomicfile.Write(path, src); rerr != nil {
			return fmt.Errorf("%w (and putting %s back failed: %v)", err, path, rerr)
		}
		return err
	}
	proj, err := load.Project(root)
	if err != nil {
		return nil, putBack(err)
	}
	if relock != "" {
		locked, err := b.lock(ctx, proj, relock)
		if err != nil {
			return nil, putBack(err)
		}
		res.Locked = locked
	}
	return res, nil
}

// lock fetches the upstream chart name of the bumped component at its new
// version, and records its digest in versions.lock.json.
func (b *Bump) lock(ctx context.Context, proj *api.Project, name string) ([]Vendored, error) {
	cache, fetcher, lock, err := vendoring(b.Cache, b.Fetcher, proj.Root)
	if err != nil {
		return nil, err
	}
	var out []Vendored
	for _, u := range upstreams(proj) {
		if u.Name != name || u.Version != proj.Versions.Components[b.Component].Upstream[name] || lock.Get(u) != nil {
			continue
		}
		got, err := vendorOne(ctx, fetcher, cache, lock, u)
		if err != nil {
			return nil, upstreamError(u, err, " (versions.cue is left as it was; bump with --no-lock to lock it later with distgen vendor)")
		}
		out = append(out, got)
	}
	if lock.Changed() {
		if err := lock.Write(proj.Root); err != nil {
			return nil, err
		}
	}
	return out, nil
}
