package inventory

import (
	"reflect"
	"strings"
	"testing"
)

// Documents of kinds that name no images are skipped unparsed; every way of
// writing a workload is still read.
func TestFromManifestsKinds(t *testing.T) {
	manifests := map[string]string{
		"c/templates/crds.yaml": `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: xs.example.io}
spec:
  versions:
  - name: v1
    schema: {openAPIV3Schema: {description: "image: not-an-image:1"}}
`,
		"c/templates/deploy.yaml": `# a comment-only document
---
apiVersion: apps/v1
kind: "Deployment"
metadata: {name: d}
spec:
  template:
    spec:
      containers: [{name: a, image: "block:1"}]
---
{kind: Pod, apiVersion: v1, metadata: {name: p}, spec: {containers: [{name: a, image: "flow:1"}]}}
---
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}, "spec": {"initContainers": [{"name": "i", "image": "json:1"}]}}
`,
	}
	got, err := FromManifests(manifests)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"docker.io/library/block:1", "docker.io/library/flow:1", "docker.io/library/json:1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("images %v, want %v", got, want)
	}
}

// Images an operator is handed rather than a pod template: image fields of
// custom resources (strings and {registry, repository, tag|digest} maps)
// and --...image...=REF arguments. Only references with a tag or digest
// count, so a repository, a pull policy or a word is not taken for one.
func TestFromManifestsOperatorImages(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	manifests := map[string]string{
		"op/templates/cr.yaml": `apiVersion: example.io/v1
kind: Database
metadata: {name: db}
spec:
  image: ghcr.io/example/db:16.4
  sidecarImage: quay.io/example/exporter:0.15@` + digest + `
  backup:
    image: {registry: docker.io, repository: library/busybox, tag: "1.36"}
  tools:
  - agentImage: registry.example.com/agent:v2
  imagePullPolicy: Always
  baseImage: quay.io/example/base
  image2: not/an:image:really
  note: "image: docker.io/library/nginx:1.27"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: op}
spec:
  template:
    spec:
      containers:
      - name: op
        image: ghcr.io/example/operator:1.0.0
        args: ["--migrate-image=ghcr.io/example/migrate:1.0.0", "--image-pull-policy=IfNotPresent", "--log-level=debug"]
        command: ["/op", "-default-image=docker.io/library/alpine:3.20"]
        env:
        - {name: RELATED_IMAGE_EXPORTER, value: "quay.io/example/exporter:0.16"}
        - {name: LOG_LEVEL, value: "docker.io/library/not:an-image"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {image: "docker.io/library/redis:7"}
`,
	}
	got, err := FromManifests(manifests)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"docker.io/library/alpine:3.20", "docker.io/library/busybox:1.36", "ghcr.io/example/db:16.4",
		"ghcr.io/example/migrate:1.0.0", "ghcr.io/example/operator:1.0.0",
		"quay.io/example/exporter:0.15@" + digest, "quay.io/example/exporter:0.16", "registry.example.com/agent:v2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("images\n got %v\nwant %v", got, want)
	}
	// Each image says where it was found.
	s := NewSet()
	if err := s.AddManifests(manifests); err != nil {
		t.Fatal(err)
	}
	sources := map[string][]string{}
	for _, f := range s.List() {
		sources[f.Image] = f.Sources
	}
	for ref, want := range map[string]string{
		"docker.io/library/busybox:1.36": "op/templates/cr.yaml: Database/db spec.backup.image",
		"registry.example.com/agent:v2":  "op/templates/cr.yaml: Database/db spec.tools[0].agentImage",
		"ghcr.io/example/migrate:1.0.0":  "op/templates/cr.yaml: Deployment/op spec.template.spec.containers[0].args[0]",
		"quay.io/example/exporter:0.16":  "op/templates/cr.yaml: Deployment/op spec.template.spec.containers[0].env[0]",
		"docker.io/library/alpine:3.20":  "op/templates/cr.yaml: Deployment/op spec.template.spec.containers[0].command[1]",
		"ghcr.io/example/operator:1.0.0": "op/templates/cr.yaml: Deployment/op spec.template.spec.containers[0].image",
	} {
		if !reflect.DeepEqual(sources[ref], []string{want}) {
			t.Errorf("%s found at %v, want %s", ref, sources[ref], want)
		}
	}
}
