package tests

import (
	"slices"
	"testing"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/inventory"
	"github.com/distgen/distgen/tests/fixture"
)

// The image inventory finds every image of the chart shapes real
// platforms take (images handed to operators in values, flags and
// environment variables, custom resources' image fields, container disks,
// .Files.Get image files, helm.sh/images), each once, normalized, and says
// where it found it; defaults the release leaves unused are not listed.
func TestImageInventoryRecall(t *testing.T) {
	root := copyProject(t, repoRoot)
	fixture.Shapes(t, root)
	a := &action.Images{Project: action.Project{Dir: root, Bundle: fixture.ShapesBundle}}
	res, err := a.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, c := range res.Components {
		found = inventory.Merge(found, c.Images)
		for _, f := range c.Found {
			if len(f.Sources) == 0 {
				t.Errorf("%s: %s has no source", c.Name, f.Image)
			}
		}
	}
	hits := 0
	for _, want := range fixture.ShapeImages {
		if slices.Contains(found, want) {
			hits++
		} else {
			t.Errorf("missed %s", want)
		}
	}
	for _, f := range found {
		if !slices.Contains(fixture.ShapeImages, f) {
			t.Errorf("listed %s, which the release does not pull", f)
		}
	}
	for _, d := range fixture.ShapeDecoys {
		if slices.Contains(found, d) {
			t.Errorf("listed the unused default %s", d)
		}
	}
	t.Logf("image recall on the chart shapes: %d/%d, %d listed", hits, len(fixture.ShapeImages), len(found))
}
