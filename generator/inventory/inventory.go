package inventory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// AnnotationHelmImages is the chart annotation that lists images a chart
// pulls beyond what its templates show.
const AnnotationHelmImages = "helm.sh/images"

// podSpecPaths are where each workload kind keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
	"PodTemplate":           {"template", "spec"},
}

// imageFields are the custom resources that name images outside a pod
// spec: the operand image of a CloudNativePG cluster, and the container
// disks of KubeVirt virtual machines and of Cluster API KubeVirt machines.
var imageFields = map[string][]string{
	"Cluster":                 {"spec", "imageName"},
	"VirtualMachine":          {"spec", "template", "spec", "volumes", "*", "containerDisk", "image"},
	"KubevirtMachineTemplate": {"spec", "template", "spec", "virtualMachineTemplate", "spec", "template", "spec", "volumes", "*", "containerDisk", "image"},
}

// imageGroups are the API groups of the kinds in imageFields.
var imageGroups = map[string]string{
	"Cluster":                 "postgresql.cnpg.io/",
	"VirtualMachine":          "kubevirt.io/",
	"KubevirtMachineTemplate": "infrastructure.cluster.x-k8s.io/",
}

// collect adds the strings at path in v to set; "*" walks every item of a
// list.
func collect(v any, path []string, set map[string]bool) {
	if len(path) == 0 {
		if s, ok := v.(string); ok && s != "" {
			set[s] = true
		}
		return
	}
	if path[0] == "*" {
		items, _ := v.([]any)
		for _, it := range items {
			collect(it, path[1:], set)
		}
		return
	}
	if m, ok := v.(map[string]any); ok {
		collect(m[path[0]], path[1:], set)
	}
}

// FromManifests returns the images in the pod specs of rendered objects,
// sorted and unique. manifests maps a source file to its YAML stream.
func FromManifests(manifests map[string]string) ([]string, error) {
	set := map[string]bool{}
	names := make([]string, 0, len(manifests))
	for n := range manifests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests[n])))
		for {
			doc, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			if k, ok := topLevelKind(doc); ok && !imageKind(k) {
				continue // CRDs, RBAC, config: no images, and often large
			}
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			if obj == nil {
				continue
			}
			kind, _ := obj["kind"].(string)
			if fields, ok := imageFields[kind]; ok {
				if apiVersion, _ := obj["apiVersion"].(string); strings.HasPrefix(apiVersion, imageGroups[kind]) {
					collect(obj, fields, set)
				}
				continue
			}
			path, ok := podSpecPaths[kind]
			if !ok {
				continue
			}
			spec := dig(obj, path)
			for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
				cs, _ := spec[list].([]any)
				for _, c := range cs {
					if m, ok := c.(map[string]any); ok {
						if img, ok := m["image"].(string); ok && img != "" {
							set[img] = true
						}
					}
				}
			}
		}
	}
	return sorted(set), nil
}

// imageKind reports whether objects of a kind may name images.
func imageKind(kind string) bool {
	_, fields := imageFields[kind]
	_, pods := podSpecPaths[kind]
	return fields || pods
}

// topLevelKind finds a block-style document's kind from its unindented
// "kind:" line, without parsing the document. Only a top-level key starts a
// line at column 0 in block style; a document written otherwise (JSON, flow
// style) reports false and is parsed.
func topLevelKind(doc []byte) (string, bool) {
	for len(doc) > 0 {
		line := doc
		if i := bytes.IndexByte(doc, '\n'); i >= 0 {
			line, doc = doc[:i], doc[i+1:]
		} else {
			doc = nil
		}
		if rest, ok := bytes.CutPrefix(line, []byte("kind:")); ok {
			k := strings.Trim(strings.TrimSpace(string(rest)), `"'`)
			if k == "" || strings.ContainsAny(k, " #{}[]&*!|>%@`") {
				return "", false
			}
			return k, true
		}
	}
	return "", false
}

func dig(obj map[string]any, path []string) map[string]any {
	cur := obj
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}

// FromChart returns the images a chart and its dependencies declare in
// their helm.sh/images annotation ("- name: x\n  image: repo:tag").
func FromChart(c *chartv2.Chart) ([]string, error) {
	set := map[string]bool{}
	var walk func(c *chartv2.Chart) error
	walk = func(c *chartv2.Chart) error {
		if raw := c.Metadata.Annotations[AnnotationHelmImages]; raw != "" {
			var entries []struct {
				Image string `json:"image"`
			}
			if err := yaml.Unmarshal([]byte(raw), &entries); err != nil {
				return fmt.Errorf("chart %s: %s annotation: %w", c.Name(), AnnotationHelmImages, err)
			}
			for _, e := range entries {
				if e.Image != "" {
					set[e.Image] = true
				}
			}
		}
		for _, d := range c.Dependencies() {
			if err := walk(d); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(c); err != nil {
		return nil, err
	}
	return sorted(set), nil
}

// Merge returns the sorted union of image lists.
func Merge(lists ...[]string) []string {
	set := map[string]bool{}
	for _, l := range lists {
		for _, i := range l {
			set[i] = true
		}
	}
	return sorted(set)
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	sort.Strings(out)
	return out
}
