package flux

import (
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/plan"
)

// Annotations that tell Flux's kustomize-controller how to treat objects.
const (
	AnnotationSubstitute = "kustomize.toolkit.fluxcd.io/substitute"
	AnnotationPrune      = "kustomize.toolkit.fluxcd.io/prune"
)

// Remediation retries for install and upgrade.
const retries = 3

// File is one rendered file, its path relative to the flux/ directory.
type File struct {
	Path string
	Data []byte
}

// Render builds the Flux objects of a plan. digests maps each step's chart
// name to the OCI manifest digest of its chart artifact. memo, when not
// nil, holds the YAML of objects an earlier build marshalled.
func Render(p *plan.Plan, digests map[string]string, memo *Memo) ([]File, error) {
	var files []File
	namespaces := make([]any, len(p.Namespaces))
	for i, ns := range p.Namespaces {
		namespaces[i] = Namespace(p.Bundle.Name, ns)
	}
	nsDocs, err := memo.MarshalAll(namespaces...)
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: "namespaces.yaml", Data: nsDocs})
	// Each component's objects are marshalled on their own (YAML is most
	// of the cost), several at once, into their place in order.
	comps := make([]File, len(p.Steps))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, s := range p.Steps {
		g.Go(func() error {
			digest, ok := digests[s.Chart]
			if !ok {
				return fmt.Errorf("component %q: no digest for chart %q", s.Component.Name, s.Chart)
			}
			repo := OCIRepository(p.Bundle.Name, s, digest)
			hr, err := HelmRelease(p.Bundle.Name, s)
			if err != nil {
				return fmt.Errorf("component %q: %w", s.Component.Name, err)
			}
			docs, err := memo.MarshalAll(repo, hr)
			if err != nil {
				return fmt.Errorf("component %q: %w", s.Component.Name, err)
			}
			comps[i] = File{Path: ComponentFile(s.Component.Name), Data: docs}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return WithKustomization(append(files, comps...))
}

// WithKustomization adds the kustomization.yaml that lists files as its
// resources, which kustomize-controller builds an artifact from.
func WithKustomization(files []File) ([]File, error) {
	k := kustypes.Kustomization{TypeMeta: kustypes.TypeMeta{
		APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind,
	}}
	for _, f := range files {
		k.Resources = append(k.Resources, f.Path)
	}
	kb, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	return append(files, File{Path: "kustomization.yaml", Data: kb}), nil
}

// ComponentFile is the file holding a component's source and release.
func ComponentFile(component string) string { return "components/" + component + ".yaml" }

// ChartURL is where a bundle's chart sources find a chart: under the
// registry that bootstrap substitutes for ${DISTGEN_REGISTRY}.
func ChartURL(chart string) string {
	return "oci://${" + api.RegistryVariable + "}/charts/" + chart
}

func labels(bundle, component string) map[string]string {
	l := map[string]string{api.LabelManagedBy: api.ManagedBy, api.LabelBundle: bundle}
	if component != "" {
		l[api.LabelComponent] = component
	}
	return l
}

// Namespace is a namespace of the platform. Flux never prunes it: removing a
// component from a bundle must not delete a namespace and all it holds.
func Namespace(bundle string, ns plan.Namespace) *corev1.Namespace {
	obj := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ns.Name,
			Labels:      maps.Clone(ns.Labels),
			Annotations: maps.Clone(ns.Annotations),
		},
	}
	// distgen's own labels and annotations win over declared ones.
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	maps.Copy(obj.Labels, labels(bundle, ""))
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	maps.Copy(obj.Annotations, map[string]string{AnnotationPrune: "disabled", AnnotationSubstitute: "disabled"})
	if ns.PodSecurity != "" {
		for _, mode := range []string{"enforce", "audit", "warn"} {
			obj.Labels["pod-security.kubernetes.io/"+mode] = string(ns.PodSecurity)
		}
	}
	return obj
}

// OCIRepository is the source of a step's chart, pinned by digest.
func OCIRepository(bundle string, s *plan.Step, digest string) *sourcev1.OCIRepository {
	c := s.Component
	return &sourcev1.OCIRepository{
		TypeMeta: metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: c.Name, Namespace: c.Namespace, Labels: labels(bundle, c.Name),
		},
		Spec: sourcev1.OCIRepositorySpec{
			URL:       ChartURL(s.Chart),
			Reference: &sourcev1.OCIRepositoryRef{Digest: digest},
			LayerSelector: &sourcev1.OCILayerSelector{
				MediaType: api.MediaTypeHelmChart,
				Operation: sourcev1.OCILayerCopy,
			},
			Interval: Duration(c.Interval),
		},
	}
}

// SiteSecret holds a site's values, in each namespace whose releases read
// them; SiteValuesKey is its key.
const (
	SiteSecret    = "distgen-site"
	SiteValuesKey = "values.yaml"
)

// HelmRelease installs a step's chart with the bundle's values.
func HelmRelease(bundle string, s *plan.Step) (*helmv2.HelmRelease, error) {
	c := s.Component
	values, err := json.Marshal(s.Values)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	timeout := Duration(c.Timeout)
	crds := helmv2.CRDsPolicy(c.CRDs)
	hr := &helmv2.HelmRelease{
		TypeMeta: metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: c.Name, Namespace: c.Namespace, Labels: labels(bundle, c.Name),
			// Values are the user's: a "${...}" in them is not Flux's to fill.
			Annotations: map[string]string{AnnotationSubstitute: "disabled"},
		},
		Spec: helmv2.HelmReleaseSpec{
			ChartRef: &helmv2.CrossNamespaceSourceReference{
				Kind: sourcev1.OCIRepositoryKind, Name: c.Name, Namespace: c.Namespace,
			},
			ReleaseName:     c.ReleaseName,
			TargetNamespace: c.Namespace,
			Interval:        Duration(c.Interval),
			Timeout:         &timeout,
			Install: &helmv2.Install{
				CRDs:        crds,
				DisableWait: !c.Wait,
				Remediation: &helmv2.InstallRemediation{Retries: retries},
			},
			Upgrade: &helmv2.Upgrade{
				CRDs:        crds,
				DisableWait: !c.Wait,
				Remediation: &helmv2.UpgradeRemediation{Retries: retries, RemediateLastFailure: ptr(true)},
			},
		},
	}
	if len(s.Values) > 0 {
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: values}
	}
	if s.Site {
		// The site's values come first: the component's own valuesFrom
		// are merged over them.
		hr.Spec.ValuesFrom = append(hr.Spec.ValuesFrom, helmv2.ValuesReference{Kind: "Secret", Name: SiteSecret, ValuesKey: SiteValuesKey})
	}
	applySettings(hr, c.Helm)
	for _, d := range s.DependsOn {
		hr.Spec.DependsOn = append(hr.Spec.DependsOn, helmv2.DependencyReference{Name: d.Name, Namespace: d.Namespace})
	}
	return hr, nil
}

// applySettings sets what a component's helm settings ask for.
func applySettings(hr *helmv2.HelmRelease, h api.HelmSettings) {
	for _, v := range h.ValuesFrom {
		hr.Spec.ValuesFrom = append(hr.Spec.ValuesFrom, helmv2.ValuesReference{
			Kind: v.Kind, Name: v.Name, ValuesKey: v.ValuesKey, TargetPath: v.TargetPath, Optional: v.Optional,
		})
	}
	if h.DisableHooks != nil {
		hr.Spec.Install.DisableHooks = *h.DisableHooks
		hr.Spec.Upgrade.DisableHooks = *h.DisableHooks
	}
	hr.Spec.MaxHistory = h.MaxHistory
	if t := h.Test; t != nil {
		hr.Spec.Test = &helmv2.Test{Enable: t.Enable, IgnoreFailures: t.IgnoreFailures}
		if t.Timeout != "" {
			d := Duration(t.Timeout)
			hr.Spec.Test.Timeout = &d
		}
	}
	if d := h.DriftDetection; d != nil {
		hr.Spec.DriftDetection = &helmv2.DriftDetection{Mode: helmv2.DriftDetectionMode(d.Mode)}
	}
	if a := h.Install; a != nil {
		if a.CRDs != "" {
			hr.Spec.Install.CRDs = helmv2.CRDsPolicy(a.CRDs)
		}
		if a.Retries != nil {
			hr.Spec.Install.Remediation.Retries = *a.Retries
		}
		if a.Strategy != "" {
			hr.Spec.Install.Strategy = &helmv2.InstallStrategy{Name: a.Strategy}
		}
		hr.Spec.Install.Replace = a.Replace
	}
	if a := h.Upgrade; a != nil {
		if a.CRDs != "" {
			hr.Spec.Upgrade.CRDs = helmv2.CRDsPolicy(a.CRDs)
		}
		if a.Retries != nil {
			hr.Spec.Upgrade.Remediation.Retries = *a.Retries
		}
		if a.Strategy != "" {
			hr.Spec.Upgrade.Strategy = &helmv2.UpgradeStrategy{Name: a.Strategy}
		}
		hr.Spec.Upgrade.Force = a.Force
		hr.Spec.Upgrade.CleanupOnFail = a.CleanupOnFail
	}
}

func ptr[T any](v T) *T { return &v }

// Duration converts a duration the schema has already validated.
func Duration(d api.Duration) metav1.Duration {
	v, _ := d.Parse()
	return metav1.Duration{Duration: v.Round(time.Millisecond)}
}

// Marshal serialises a typed object without the fields a generated manifest
// must not carry: an empty status or spec and a null creationTimestamp.
func Marshal(obj any) ([]byte, error) { return (*Memo)(nil).Marshal(obj) }

// fromJSON is Marshal's YAML for an object's JSON.
func fromJSON(b []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if spec, ok := m["spec"].(map[string]any); ok && len(spec) == 0 {
		delete(m, "spec")
	}
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return yaml.Marshal(m)
}

// MarshalAll serialises objects as one YAML stream, each document after a
// "---" line.
func MarshalAll(objs ...any) ([]byte, error) { return (*Memo)(nil).MarshalAll(objs...) }

func join(docs [][]byte) []byte {
	var out []byte
	for _, d := range docs {
		out = append(out, "---\n"...)
		out = append(out, d...)
	}
	return out
}
