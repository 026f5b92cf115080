package inventory

import (
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
)

// References are normalized the way container runtimes resolve them.
func TestNormalize(t *testing.T) {
	d := "sha256:" + strings.Repeat("cd", 32)
	for in, want := range map[string]string{
		"busybox":                          "docker.io/library/busybox:latest",
		"busybox:latest":                   "docker.io/library/busybox:latest",
		"docker.io/library/busybox:latest": "docker.io/library/busybox:latest",
		"index.docker.io/library/busybox":  "docker.io/library/busybox:latest",
		"library/busybox:1.36":             "docker.io/library/busybox:1.36",
		"clastix/kubectl:v1.32":            "docker.io/clastix/kubectl:v1.32",
		"busybox@" + d:                     "docker.io/library/busybox@" + d,
		"ghcr.io/x/y:1.0@" + d:             "ghcr.io/x/y:1.0@" + d,
		"localhost:5000/x":                 "localhost:5000/x:latest",
		"redis:6379":                       "docker.io/library/redis:6379",
		"Not/An:Image":                     "",
		"a b":                              "",
		"{{ .Values.image }}":              "",
		"x@sha256:short":                   "",
	} {
		got, ok := Normalize(in)
		if got != want || ok != (want != "") {
			t.Errorf("Normalize(%q) = %q, %t; want %q", in, got, ok, want)
		}
	}
	if got, want := Spellings("docker.io/library/busybox"), []string{
		"busybox", "docker.io/busybox", "docker.io/library/busybox", "index.docker.io/busybox",
		"index.docker.io/library/busybox", "library/busybox",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("Spellings = %v, want %v", got, want)
	}
	if got := Spellings("ghcr.io/x/y"); !reflect.DeepEqual(got, []string{"ghcr.io/x/y"}) {
		t.Errorf("Spellings(ghcr.io/x/y) = %v", got)
	}
}

// One image written three ways is listed once; a tag found alone and with
// its digest is one image, as is a digest found alone and under its tag;
// a tag seen with two digests stays as found.
func TestSetMerges(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("11", 32), "sha256:"+strings.Repeat("22", 32)
	s := NewSet()
	s.Add("busybox", "a")
	s.Add("busybox:latest", "b")
	s.Add("docker.io/library/busybox:latest", "c")
	s.Add("docker.io/clastix/kubectl:v1.32", "d")
	s.Add("clastix/kubectl:v1.32@"+d1, "e")
	s.Add("ghcr.io/x/y@"+d1, "f")
	s.Add("ghcr.io/x/y:2@"+d1, "g")
	s.Add("quay.io/a/b:1", "h")
	s.Add("quay.io/a/b:1@"+d1, "i")
	s.Add("quay.io/a/b:1@"+d2, "j")
	s.Add("not an image", "k")
	want := []Found{
		{Image: "docker.io/clastix/kubectl:v1.32@" + d1, Sources: []string{"d", "e"}},
		{Image: "docker.io/library/busybox:latest", Sources: []string{"a", "b", "c"}},
		{Image: "ghcr.io/x/y:2@" + d1, Sources: []string{"f", "g"}},
		{Image: "quay.io/a/b:1", Sources: []string{"h"}},
		{Image: "quay.io/a/b:1@" + d1, Sources: []string{"i"}},
		{Image: "quay.io/a/b:1@" + d2, Sources: []string{"j"}},
	}
	if got := s.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("List\n got %v\nwant %v", got, want)
	}
	if got := Merge([]string{"busybox", "x y"}, []string{"docker.io/library/busybox"}); !reflect.DeepEqual(got, []string{"docker.io/library/busybox:latest", "x y"}) {
		t.Errorf("Merge = %v", got)
	}
}

// Image-shaped values count where the rendered objects name them: a
// default the release leaves unused (a container disk it does not boot) is
// not an image it pulls.
func TestAddValues(t *testing.T) {
	d := "sha256:" + strings.Repeat("ef", 32)
	values := common.Values{
		"operator": map[string]any{"image": map[string]any{"registry": "ghcr.io", "repository": "example/operator", "tag": "v1.2@" + d}},
		"postgres": map[string]any{"image": map[string]any{"repository": "ghcr.io/cloudnative-pg/postgresql", "digest": d}},
		"global": map[string]any{
			"registry": map[string]any{"address": "registry.example.com/platform"},
			"images": map[string]any{
				"controller": map[string]any{"repository": "controller", "tag": "0.9"},
				"webhook":    map[string]any{"repository": "webhook", "tag": "0.9"},
			},
		},
		"kubectlImage": "docker.io/clastix/kubectl:v1.32",
		"vm":           map[string]any{"containerDisk": map[string]any{"image": "quay.io/containerdisks/fedora:41"}},
		"unusedImage":  map[string]any{"repository": "quay.io/unused/thing", "tag": "1"},
		"nginx":        map[string]any{"image": map[string]any{"repository": "nginx", "tag": "1.27"}},
		"images":       []any{"quay.io/listed/one:1"},
	}
	rendered := Rendered(`
args: [--operator-image=ghcr.io/example/operator:v1.2@` + d + `]
env: [{name: PG, value: "ghcr.io/cloudnative-pg/postgresql@` + d + `"}]
data: {controller: "registry.example.com/platform/controller:0.9"}
command: [kubectl, --image, docker.io/clastix/kubectl:v1.32]
labels: {app: nginx, version: "1.27"}
list: "quay.io/listed/one:1"
`)
	s := NewSet()
	s.AddValues(values, rendered)
	want := []Found{
		{Image: "docker.io/clastix/kubectl:v1.32", Sources: []string{"values: kubectlImage"}},
		{Image: "ghcr.io/cloudnative-pg/postgresql@" + d, Sources: []string{"values: postgres.image"}},
		{Image: "ghcr.io/example/operator:v1.2@" + d, Sources: []string{"values: operator.image"}},
		{Image: "quay.io/listed/one:1", Sources: []string{"values: images[0]"}},
		{Image: "registry.example.com/platform/controller:0.9", Sources: []string{"values: global.images.controller"}},
	}
	if got := s.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("List\n got %v\nwant %v", got, want)
	}
}

// Image files of a chart and its subcharts (images/NAME.tag) count where
// the rendered objects name them.
func TestAddFiles(t *testing.T) {
	sub := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: "sub"}, Files: []*common.File{
		{Name: "images/agent.tag", Data: []byte("ghcr.io/example/agent:1.17.4\n")},
	}}
	c := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: "top"}, Files: []*common.File{
		{Name: "images/cilium.tag", Data: []byte("'ghcr.io/example/cilium:1.17.4'\n")},
		{Name: "images/old.tag", Data: []byte("ghcr.io/example/old:0.1\n")},
		{Name: "README.md", Data: []byte("ghcr.io/example/readme:1\n")},
		{Name: "files/script.sh", Data: []byte("#!/bin/sh\necho ghcr.io/example/cilium:1.17.4\n")},
	}}
	c.AddDependency(sub)
	s := NewSet()
	s.AddFiles(c, Rendered("image: ghcr.io/example/cilium:1.17.4\nimage: ghcr.io/example/agent:1.17.4\nimage: ghcr.io/example/readme:1\n"))
	want := []Found{
		{Image: "ghcr.io/example/agent:1.17.4", Sources: []string{"top/charts/sub/images/agent.tag"}},
		{Image: "ghcr.io/example/cilium:1.17.4", Sources: []string{"top/images/cilium.tag"}},
	}
	if got := s.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("List\n got %v\nwant %v", got, want)
	}
}
