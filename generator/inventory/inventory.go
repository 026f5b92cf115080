package inventory

import (
	"fmt"
	"strings"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/internal/manifest"
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
// list. at is where v is, for the sources.
func collect(v any, path []string, at string, set *Set) {
	if len(path) == 0 {
		if s, ok := v.(string); ok && s != "" {
			set.Add(s, at)
		}
		return
	}
	if path[0] == "*" {
		items, _ := v.([]any)
		for i, it := range items {
			collect(it, path[1:], fmt.Sprintf("%s[%d]", at, i), set)
		}
		return
	}
	if m, ok := v.(map[string]any); ok {
		collect(m[path[0]], path[1:], join(at, path[0]), set)
	}
}

func join(at, key string) string {
	if strings.HasSuffix(at, " ") || at == "" {
		return at + key
	}
	return at + "." + key
}

// AddManifests adds the images of rendered objects: their pod specs'
// containers (images, --...image...=REF arguments, *IMAGE* environment
// variables), the image fields of custom resources and the container
// disks of virtual machines. manifests maps a source file to its YAML
// stream.
func (set *Set) AddManifests(manifests map[string]string) error {
	for _, n := range manifest.Files(manifests) {
		docs, err := manifest.Docs(manifests[n])
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		for _, doc := range docs {
			if noImages[manifest.ReadHeader(doc).Kind] {
				continue // CRDs, RBAC, config: no images, and often large
			}
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			if obj == nil {
				continue
			}
			kind, _ := obj["kind"].(string)
			objName, _ := dig(obj, []string{"metadata"})["name"].(string)
			at := fmt.Sprintf("%s: %s/%s ", n, kind, objName)
			if fields, ok := imageFields[kind]; ok {
				if apiVersion, _ := obj["apiVersion"].(string); strings.HasPrefix(apiVersion, imageGroups[kind]) {
					collect(obj, fields, at, set)
					continue
				}
			}
			path, ok := podSpecPaths[kind]
			if !ok {
				// A custom resource an operator turns into pods: its image
				// fields ("image", "*Image"), as strings or as
				// {registry, repository, tag | digest} maps.
				imageFieldsOf(obj, "", at, set)
				continue
			}
			spec := dig(obj, path)
			at += strings.Join(path, ".")
			for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
				cs, _ := spec[list].([]any)
				for i, c := range cs {
					m, ok := c.(map[string]any)
					if !ok {
						continue
					}
					here := fmt.Sprintf("%s.%s[%d]", at, list, i)
					if img, ok := m["image"].(string); ok && img != "" {
						set.Add(img, here+".image")
					}
					// Images a container hands on: --migrate-image=REF.
					for _, key := range []string{"command", "args"} {
						words, _ := m[key].([]any)
						for j, w := range words {
							if s, ok := w.(string); ok {
								if ref := flagImage(s); ref != "" {
									set.Add(ref, fmt.Sprintf("%s.%s[%d]", here, key, j))
								}
							}
						}
					}
					// And in its environment: RELATED_IMAGE_X=REF.
					env, _ := m["env"].([]any)
					for j, e := range env {
						ev, _ := e.(map[string]any)
						k, _ := ev["name"].(string)
						v, _ := ev["value"].(string)
						if strings.Contains(strings.ToUpper(k), "IMAGE") && isImageRef(v) {
							set.Add(v, fmt.Sprintf("%s.env[%d]", here, j))
						}
					}
				}
			}
		}
	}
	return nil
}

// FromManifests returns the images AddManifests finds, sorted and unique.
func FromManifests(manifests map[string]string) ([]string, error) {
	s := NewSet()
	if err := s.AddManifests(manifests); err != nil {
		return nil, err
	}
	return s.Images(), nil
}

// noImages are the kinds that never name an image: Kubernetes' own
// configuration, RBAC and networking kinds, and CRDs (often megabytes).
// Every other kind is parsed: a custom resource may name the images its
// operator runs.
var noImages = map[string]bool{
	"CustomResourceDefinition": true, "ConfigMap": true, "Secret": true, "Service": true,
	"ServiceAccount": true, "Role": true, "ClusterRole": true, "RoleBinding": true,
	"ClusterRoleBinding": true, "Namespace": true, "NetworkPolicy": true,
	"PodDisruptionBudget": true, "HorizontalPodAutoscaler": true, "Ingress": true,
	"IngressClass": true, "PersistentVolumeClaim": true, "PersistentVolume": true,
	"StorageClass": true, "PriorityClass": true, "ValidatingWebhookConfiguration": true,
	"MutatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true,
	"ValidatingAdmissionPolicyBinding": true, "APIService": true, "LimitRange": true,
	"ResourceQuota": true, "Endpoints": true, "EndpointSlice": true, "Lease": true,
	"CSIDriver": true, "RuntimeClass": true, "ServiceMonitor": true, "PodMonitor": true,
	"PrometheusRule": true,
}

// isImageRef reports whether s is an image reference with an explicit tag
// or digest: the test for a string found outside a pod template, so that a
// repository name or a word is not taken for an image.
func isImageRef(s string) bool {
	if _, ok := Normalize(s); !ok {
		return false
	}
	_, tag, digest := split(s)
	return tag != "" || digest != ""
}

// flagImage returns REF of a --...image...=REF argument, if REF is an image.
func flagImage(arg string) string {
	flag, val, ok := strings.Cut(arg, "=")
	if !ok || !strings.HasPrefix(flag, "-") || !strings.Contains(strings.ToLower(flag), "image") || !isImageRef(val) {
		return ""
	}
	return val
}

// imageFieldsOf collects the image fields anywhere in v: a string under a
// key "image" or ending in "Image", or such a key holding a map with a
// repository (and registry) and a tag or digest.
func imageFieldsOf(v any, key, at string, set *Set) {
	named := key == "image" || strings.HasSuffix(key, "Image")
	switch v := v.(type) {
	case string:
		if named && isImageRef(v) {
			set.Add(v, at)
		}
	case map[string]any:
		if named {
			if ref := imageMap(v, ""); ref != "" {
				set.Add(ref, at)
				return
			}
		}
		for k, e := range v {
			imageFieldsOf(e, k, join(at, k), set)
		}
	case []any:
		for i, e := range v {
			imageFieldsOf(e, key, fmt.Sprintf("%s[%d]", at, i), set)
		}
	}
}

// imageMap makes an image reference of {registry, repository, tag|digest};
// registry is the one in effect where the map has none of its own.
func imageMap(m map[string]any, registry string) string {
	repo, _ := m["repository"].(string)
	if repo == "" {
		return ""
	}
	if reg, _ := m["registry"].(string); reg != "" {
		registry = reg
	}
	if registry != "" {
		repo = strings.TrimSuffix(registry, "/") + "/" + repo
	}
	ref := repo
	if tag, _ := m["tag"].(string); tag != "" {
		ref += ":" + tag
	}
	if d, _ := m["digest"].(string); d != "" && !strings.Contains(ref, "@") {
		ref += "@" + d
	}
	if !isImageRef(ref) {
		return ""
	}
	return ref
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

// AddChart adds the images a chart and its dependencies declare in their
// helm.sh/images annotation ("- name: x\n  image: repo:tag").
func (set *Set) AddChart(c *chartv2.Chart) error {
	if raw := c.Metadata.Annotations[AnnotationHelmImages]; raw != "" {
		var entries []struct {
			Image string `json:"image"`
		}
		if err := yaml.Unmarshal([]byte(raw), &entries); err != nil {
			return fmt.Errorf("chart %s: %s annotation: %w", c.Name(), AnnotationHelmImages, err)
		}
		for _, e := range entries {
			if e.Image != "" {
				set.Add(e.Image, c.ChartFullPath()+"/Chart.yaml: "+AnnotationHelmImages)
			}
		}
	}
	for _, d := range c.Dependencies() {
		if err := set.AddChart(d); err != nil {
			return err
		}
	}
	return nil
}

// FromChart returns the images AddChart finds, sorted and unique.
func FromChart(c *chartv2.Chart) ([]string, error) {
	s := NewSet()
	if err := s.AddChart(c); err != nil {
		return nil, err
	}
	return s.Images(), nil
}
