package action

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/sync/errgroup"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/upstream"
)

// Outdated asks each upstream chart's repository which versions it offers
// and reports the newest, by SemVer, against the one pinned: the tags of
// an OCI repository, the entries of an HTTPS repository's index.yaml.
// Pre-releases count only with Pre. A repository that cannot be reached is
// reported for its charts; the others are still asked.
type Outdated struct {
	// Dir is the project root or a directory below it.
	Dir string
	// Fetcher asks the repositories; nil means one with default settings
	// (TLS verified, the Docker keychain).
	Fetcher *upstream.Fetcher
	// Pre counts pre-release versions as newer.
	Pre bool
	// Jobs bounds how many repositories are asked at once (default 4).
	Jobs int
}

// OutdatedChart is one upstream chart and what its repository offers.
type OutdatedChart struct {
	Repository string `json:"repository"`
	Name       string `json:"name"`
	Pinned     string `json:"pinned"`
	// Latest is the newest version the repository offers; empty when it
	// could not be asked (Error says why).
	Latest   string `json:"latest,omitempty"`
	Outdated bool   `json:"outdated"`
	// Components wrap the chart at the pinned version.
	Components []string `json:"components"`
	Error      string   `json:"error,omitempty"`
}

// OutdatedError is what --exit-code returns when charts are behind.
type OutdatedError struct{ Charts []OutdatedChart }

func (e *OutdatedError) Error() string {
	names := make([]string, len(e.Charts))
	for i, c := range e.Charts {
		names[i] = fmt.Sprintf("%s %s -> %s", c.Name, c.Pinned, c.Latest)
	}
	return fmt.Sprintf("%d upstream charts are behind: %s", len(e.Charts), strings.Join(names, ", "))
}

// Run asks every repository, at most Jobs at once, and lists the charts by
// repository and name.
func (o *Outdated) Run(ctx context.Context) ([]OutdatedChart, error) {
	proj, err := loadProject(o.Dir)
	if err != nil {
		return nil, err
	}
	fetcher := o.Fetcher
	if fetcher == nil {
		fetcher = &upstream.Fetcher{}
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	ups := upstreams(proj)
	out := make([]OutdatedChart, len(ups))
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, u := range ups {
		out[i] = OutdatedChart{Repository: u.Repository, Name: u.Name, Pinned: u.Version, Components: wrapping(proj, u)}
		g.Go(func() error {
			offered, err := fetcher.Versions(ctx, u)
			if err != nil {
				out[i].Error = err.Error()
				return nil
			}
			out[i].Latest, out[i].Outdated = newest(u.Version, offered, o.Pre)
			return nil
		})
	}
	_ = g.Wait()
	return out, ctx.Err()
}

// newest is the highest SemVer version among offered (stable ones only,
// unless pre), and whether it is above pinned. Versions that are not
// SemVer are passed over.
func newest(pinned string, offered []string, pre bool) (string, bool) {
	var best *semver.Version
	var bestText string
	for _, o := range offered {
		v, err := semver.NewVersion(o)
		if err != nil || (v.Prerelease() != "" && !pre) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestText = v, o
		}
	}
	if best == nil {
		return "", false
	}
	p, err := semver.NewVersion(pinned)
	return bestText, err == nil && best.GreaterThan(p)
}

// wrapping lists the components that wrap u, over every bundle.
func wrapping(p *api.Project, u api.Upstream) []string {
	var out []string
	for _, b := range p.Bundles {
		for _, c := range b.Components {
			for _, cu := range c.Chart.Upstream {
				if cu.Repository == u.Repository && cu.Name == u.Name && cu.Version == u.Version && !slices.Contains(out, c.Name) {
					out = append(out, c.Name)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}
