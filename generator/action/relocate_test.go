package action

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The inventory lists images normalized, manifests write them as they
// please: kustomize's image transformer (what Flux's post-renderer runs)
// relocates every spelling of a Docker Hub image.
func TestRelocatedImagesMatchEverySpelling(t *testing.T) {
	images, err := relocatedImages("mirror.example/site", []string{"docker.io/library/busybox:latest", "ghcr.io/x/y:1"})
	if err != nil {
		t.Fatal(err)
	}
	kz := map[string]any{"resources": []string{"pod.yaml"}, "images": images}
	kb, err := yaml.Marshal(kz)
	if err != nil {
		t.Fatal(err)
	}
	fs := filesys.MakeFsInMemory()
	spellings := []string{"busybox", "busybox:latest", "library/busybox:latest", "docker.io/busybox", "docker.io/library/busybox:latest", "index.docker.io/library/busybox", "ghcr.io/x/y:1"}
	var pod strings.Builder
	pod.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n")
	for i, s := range spellings {
		pod.WriteString("  - {name: c" + string(rune('a'+i)) + ", image: \"" + s + "\"}\n")
	}
	if err := fs.WriteFile("/k/kustomization.yaml", kb); err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFile("/k/pod.yaml", []byte(pod.String())); err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/k")
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Spec struct {
			Containers []struct{ Image string } `json:"containers"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for i, c := range got.Spec.Containers {
		if !strings.HasPrefix(c.Image, "mirror.example/site/images/") {
			t.Errorf("%s was not relocated: %s", spellings[i], c.Image)
		}
	}
	if len(got.Spec.Containers) != len(spellings) {
		t.Fatalf("%d containers out", len(got.Spec.Containers))
	}
}
