package inventory

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
)

// Rendered is the text of a chart's rendered objects, which tells an image
// a release runs from a default it leaves unused: a reference found in
// values or in a chart file counts only once the rendered objects name it.
type Rendered string

// RenderedText joins rendered manifests, CRDs left out (their schemas
// carry examples, not images).
func RenderedText(manifests map[string]string) Rendered {
	var b strings.Builder
	for n, m := range manifests {
		if strings.Contains(n, "/crds/") {
			continue
		}
		b.WriteString(m)
		b.WriteByte('\n')
	}
	return Rendered(b.String())
}

// names reports whether the rendered objects name ref: the reference as
// written, or, for one assembled from its parts, the repository with its
// tag or digest.
func (r Rendered) names(ref, repo, tag, digest string) bool {
	if strings.Contains(string(r), ref) {
		return true
	}
	// A short repository ("nginx") is a word as often as a name: only
	// a qualified one is looked for apart from its tag.
	if repo == "" || !strings.Contains(repo, "/") || !strings.Contains(string(r), repo) {
		return false
	}
	if tag != "" && !strings.Contains(string(r), tag) {
		return false
	}
	return digest == "" || strings.Contains(string(r), digest)
}

// AddValues adds the image-shaped entries of a chart's final values that
// the rendered objects name: {registry, repository, tag | digest} maps
// (the registry taken from an enclosing registry or global.registry
// where the map names none), and references under keys named image,
// *Image, *image or images. An unused default (a container disk the
// release does not boot) is left out.
func (set *Set) AddValues(values map[string]any, r Rendered) {
	if len(r) == 0 {
		return
	}
	valueImages(values, "", "", "", r, set)
}

// registryOf is the registry a map of values sets for what it holds:
// registry, imageRegistry or registry.{address, url, host, name}.
func registryOf(m map[string]any) string {
	for _, k := range []string{"registry", "imageRegistry"} {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case map[string]any:
			for _, f := range []string{"address", "url", "host", "name"} {
				if s, _ := v[f].(string); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

func imageKey(key string) bool {
	k := strings.ToLower(key)
	return k == "image" || k == "images" || strings.HasSuffix(k, "image") || strings.HasSuffix(k, "images")
}

func valueImages(v any, key, at, registry string, r Rendered, set *Set) {
	switch v := v.(type) {
	case string:
		if imageKey(key) && isImageRef(v) {
			if repo, tag, digest := split(v); r.names(v, repo, tag, digest) {
				set.Add(v, "values: "+at)
			}
		}
	case common.Values:
		valueImages(map[string]any(v), key, at, registry, r, set)
	case map[string]any:
		if reg := registryOf(v); reg != "" {
			registry = reg
		}
		if repo, _ := v["repository"].(string); repo != "" {
			if ref := imageMap(v, registry); ref != "" {
				full, tag, digest := split(ref)
				if r.names(ref, full, tag, digest) || r.names(ref, repo, tag, digest) {
					set.Add(ref, "values: "+at)
				}
				return
			}
		}
		ks := make([]string, 0, len(v))
		for k := range v {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			child := k
			if imageKey(key) {
				child = key // images.<n>: each entry is an image
			}
			valueImages(v[k], child, join(at, k), registry, r, set)
		}
	case []any:
		for i, e := range v {
			valueImages(e, key, fmt.Sprintf("%s[%d]", at, i), registry, r, set)
		}
	}
}

// maxImageFile bounds the chart files read for image references: an image
// file holds a reference or a short list of them.
const maxImageFile = 64 << 10

// AddFiles adds the image references in the plain files of a chart and its
// subcharts (images/<name>.tag, read by templates with .Files.Get), one
// per line, that the rendered objects name.
func (set *Set) AddFiles(c *chartv2.Chart, r Rendered) {
	for _, f := range c.Files {
		if len(f.Data) > maxImageFile || strings.HasSuffix(f.Name, ".tgz") || path.Base(f.Name) == "README.md" {
			continue
		}
		for _, line := range strings.Split(string(f.Data), "\n") {
			ref := strings.Trim(strings.TrimSpace(line), `"'`)
			if !isImageRef(ref) || !strings.ContainsAny(ref, ":@") {
				continue
			}
			if repo, tag, digest := split(ref); r.names(ref, repo, tag, digest) {
				set.Add(ref, c.ChartFullPath()+"/"+f.Name)
			}
		}
	}
	for _, d := range c.Dependencies() {
		set.AddFiles(d, r)
	}
}
