package action

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/internal/manifest"
	"github.com/distgen/distgen/generator/render/chart"
)

// object is one rendered object and what identifies it.
type object struct {
	id   ObjectDiff
	body map[string]any
}

// objects renders component c's chart from side s with the values its
// HelmRelease sets, as helm-controller would install it, and returns its
// objects by identity.
func (d *Diff) objects(ctx context.Context, s *side, c api.ReleaseComponent) (map[string]object, error) {
	archive, err := s.chart(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("component %q: chart: %w", c.Name, err)
	}
	ch, err := chart.FromArchive(archive, d.KubeVersion, chart.Bounds{})
	if err != nil {
		return nil, fmt.Errorf("component %q: chart: %w", c.Name, err)
	}
	manifests, _, err := ch.Render(c.ReleaseName, c.Namespace, s.values[c.Name])
	if err != nil {
		return nil, fmt.Errorf("component %q: %w", c.Name, err)
	}
	var objs []object
	for file, body := range manifests {
		docs, err := manifest.Docs(body)
		if err != nil {
			return nil, fmt.Errorf("component %q: %s: %w", c.Name, file, err)
		}
		for _, doc := range docs {
			var m map[string]any
			if err := yaml.Unmarshal(doc, &m); err != nil {
				return nil, fmt.Errorf("component %q: %s: %w", c.Name, file, err)
			}
			if len(m) == 0 {
				continue
			}
			meta, _ := m["metadata"].(map[string]any)
			str := func(v any) string { s, _ := v.(string); return s }
			o := object{id: ObjectDiff{APIVersion: str(m["apiVersion"]), Kind: str(m["kind"]), Namespace: str(meta["namespace"]), Name: str(meta["name"])}, body: m}
			objs = append(objs, o)
		}
	}
	// helm-controller puts a namespaced object that names no namespace in
	// the release's: so the object moves with the release.
	scopes := crdScopes(objs)
	out := map[string]object{}
	for _, o := range objs {
		group, _, _ := strings.Cut(o.id.APIVersion, "/")
		if !strings.Contains(o.id.APIVersion, "/") {
			group = ""
		}
		if o.id.Namespace == "" && !clusterScoped[o.id.Kind] && scopes[group+"/"+o.id.Kind] != "Cluster" {
			o.id.Namespace = c.Namespace
		}
		out[o.id.APIVersion+" "+o.id.ID()] = o
	}
	return out, nil
}

// clusterScoped are Kubernetes' own kinds that live outside namespaces.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "CSIDriver": true, "CSINode": true, "VolumeAttachment": true,
	"PriorityClass": true, "IngressClass": true, "RuntimeClass": true, "APIService": true, "CertificateSigningRequest": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true,
	"ValidatingAdmissionPolicyBinding": true, "MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"FlowSchema": true, "PriorityLevelConfiguration": true, "VolumeAttributesClass": true, "DeviceClass": true,
}

// crdScopes are the scopes ("Namespaced", "Cluster") of the kinds the
// CRDs among objs define, by GROUP/KIND.
func crdScopes(objs []object) map[string]string {
	out := map[string]string{}
	for _, o := range objs {
		if o.id.Kind != "CustomResourceDefinition" {
			continue
		}
		spec, _ := o.body["spec"].(map[string]any)
		names, _ := spec["names"].(map[string]any)
		group, _ := spec["group"].(string)
		kind, _ := names["kind"].(string)
		scope, _ := spec["scope"].(string)
		out[group+"/"+kind] = scope
	}
	return out
}

// objectDiff lists the objects added, removed and changed from was to
// now, sorted by identity; a changed object lists the fields that changed.
func objectDiff(was, now map[string]object) []ObjectDiff {
	var out []ObjectDiff
	for _, k := range unionKeys(was, now) {
		o, inOld := was[k]
		c, inNew := now[k]
		switch {
		case !inOld:
			c.id.Status = "added"
			out = append(out, c.id)
		case !inNew:
			o.id.Status = "removed"
			out = append(out, o.id)
		default:
			fields := valueDiff("", o.body, c.body)
			if len(fields) == 0 {
				continue
			}
			if c.id.APIVersion == "v1" && c.id.Kind == "Secret" {
				for i := range fields {
					fields[i] = maskSecret(fields[i])
				}
			}
			c.id.Status, c.id.Fields = "changed", fields
			out = append(out, c.id)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// masked stands for a Secret's value in a diff.
const masked = "(masked)"

// maskSecret hides the values of a Secret's data and stringData in a
// field change: the path (the key) shows, the value does not.
func maskSecret(f ValueChange) ValueChange {
	top, _, _ := strings.Cut(f.Path, ".")
	top, _, _ = strings.Cut(top, "[")
	if top != "data" && top != "stringData" {
		return f
	}
	f.From, f.To = maskValue(f.From), maskValue(f.To)
	return f
}

// maskValue replaces every leaf of v with masked, keeping map keys.
func maskValue(v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = maskValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = maskValue(x)
		}
		return out
	default:
		return masked
	}
}
