package inventory

import (
	"sort"
)

// Found is one image of an inventory.
type Found struct {
	// Image is the normalized reference (see Normalize), with the tag and
	// the digest together when both were found.
	Image string `json:"image"`
	// Sources say where it was found: a rendered object's file, kind,
	// name and field; the chart's helm.sh/images annotation; a value; a
	// chart file.
	Sources []string `json:"sources"`
}

// Set collects the images found in a chart, normalized and unique, with
// where each was found.
type Set struct {
	found map[string]map[string]bool // normalized reference → sources
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{found: map[string]map[string]bool{}} }

// Add records ref, found at source; a string that is not an image
// reference is ignored.
func (s *Set) Add(ref, source string) {
	n, ok := Normalize(ref)
	if !ok {
		return
	}
	if s.found[n] == nil {
		s.found[n] = map[string]bool{}
	}
	s.found[n][source] = true
}

// List returns the images, sorted. A tag found both alone and with a
// digest is one image (repo:tag@digest), as is a digest found both alone
// and under a tag; a tag seen with two digests stays ambiguous, and is
// listed as found.
func (s *Set) List() []Found {
	digestsOf := map[string][]string{} // repo:tag → refs with a digest
	tagsOf := map[string][]string{}    // repo@digest → refs with a tag
	for ref := range s.found {
		repo, tag, digest := split(ref)
		if digest != "" && tag != "" {
			digestsOf[repo+":"+tag] = append(digestsOf[repo+":"+tag], ref)
			tagsOf[repo+"@"+digest] = append(tagsOf[repo+"@"+digest], ref)
		}
	}
	merged := map[string]map[string]bool{}
	for ref, sources := range s.found {
		into := ref
		if d := digestsOf[ref]; len(d) == 1 {
			into = d[0]
		} else if t := tagsOf[ref]; len(t) == 1 {
			into = t[0]
		}
		if merged[into] == nil {
			merged[into] = map[string]bool{}
		}
		for src := range sources {
			merged[into][src] = true
		}
	}
	out := make([]Found, 0, len(merged))
	for ref, sources := range merged {
		out = append(out, Found{Image: ref, Sources: keys(sources)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Image < out[j].Image })
	return out
}

// Images returns the images' references, sorted.
func (s *Set) Images() []string { return Refs(s.List()) }

// Refs are the references of found images.
func Refs(found []Found) []string {
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.Image
	}
	return out
}

// AddFound records what another inventory found.
func (s *Set) AddFound(l []Found) {
	for _, f := range l {
		for _, src := range f.Sources {
			s.Add(f.Image, src)
		}
	}
}

// Merge returns the union of image lists, normalized, merged as List
// does and sorted.
func Merge(lists ...[]string) []string {
	s := NewSet()
	other := map[string]bool{} // kept as they are: nothing is dropped
	for _, l := range lists {
		for _, ref := range l {
			if _, ok := Normalize(ref); ok {
				s.Add(ref, "")
			} else if ref != "" {
				other[ref] = true
			}
		}
	}
	out := append(s.Images(), keys(other)...)
	sort.Strings(out)
	return out
}

func keys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
