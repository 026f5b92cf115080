package flux

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distgen/distgen/generator/api"
)

// BootstrapNamespace is where the bootstrap objects live: Flux's own.
const BootstrapNamespace = "flux-system"

// Bootstrap describes how a cluster pulls a bundle.
type Bootstrap struct {
	// Bundle is the bundle's name.
	Bundle string
	// Tenant, when set, makes these the objects of one tenant's artifact
	// (oci://HOST/PREFIX/tenants/NAME) rather than of a platform bundle.
	Tenant string
	// URL is the artifact's repository: oci://HOST/PREFIX/bundles/NAME.
	URL string
	// Digest pins the bundle; empty when SemVer is set.
	Digest string
	// SemVer tracks a range of versions instead of one digest.
	SemVer string
	// Registry is HOST/PREFIX, where the bundle's charts are pulled from.
	Registry string
	// Insecure talks plain HTTP to the registry (loopback registries only).
	Insecure bool
	Interval time.Duration
	// Relocate rewrites, per HelmRelease, the images its objects pull (a
	// Helm post-renderer), so a site pulls them from its mirror.
	Relocate []Relocation
	// VerifyKey, when set, is a cosign public key (PEM): the bundle's
	// OCIRepository and every chart's verify their artifact's signature
	// with it, from a Secret in each of VerifyNamespaces (where the
	// bundle's chart sources are).
	VerifyKey        []byte
	VerifyNamespaces []string
	// Site, when set, is the site's values (YAML): a Secret in each of
	// SiteNamespaces holds them for the releases that read them.
	Site           []byte
	SiteNamespaces []string
}

// VerifySecret is the Secret holding the public key signatures are
// verified with, in each namespace that has a source to verify.
const VerifySecret = "distgen-cosign-key"

// Relocation points the images of one HelmRelease at a mirror; with no
// Name, of every HelmRelease in Namespace.
type Relocation struct {
	Namespace, Name string
	Images          []kustomize.Image
}

// Name of the bootstrap objects of a bundle or a tenant.
func (b Bootstrap) Name() string {
	if b.Tenant != "" {
		return "distgen-tenant-" + b.Tenant
	}
	return "distgen-" + b.Bundle
}

func (b Bootstrap) labels() map[string]string {
	if b.Tenant == "" {
		return labels(b.Bundle, "")
	}
	l := map[string]string{api.LabelManagedBy: api.ManagedBy, api.LabelTenant: b.Tenant}
	if b.Bundle != "" {
		l[api.LabelBundle] = b.Bundle
	}
	return l
}

// BootstrapObjects are the OCIRepository that pulls the bundle artifact and
// the Kustomization that applies it. The Kustomization substitutes the
// registry into the bundle's chart sources, so one bundle digest serves any
// registry that holds its charts.
func BootstrapObjects(b Bootstrap) ([]byte, error) {
	if (b.Digest == "") == (b.SemVer == "") {
		return nil, fmt.Errorf("bootstrap of %q needs exactly one of a digest or a SemVer range", b.Name())
	}
	interval := metav1.Duration{Duration: b.Interval}
	labels := b.labels()
	src := &sourcev1.OCIRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: b.Name(), Namespace: BootstrapNamespace, Labels: labels},
		Spec: sourcev1.OCIRepositorySpec{
			URL:       b.URL,
			Reference: &sourcev1.OCIRepositoryRef{Digest: b.Digest, SemVer: b.SemVer},
			LayerSelector: &sourcev1.OCILayerSelector{
				MediaType: api.MediaTypeFluxContent, Operation: sourcev1.OCILayerExtract,
			},
			Insecure: b.Insecure,
			Interval: interval,
		},
	}
	ks := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: b.Name(), Namespace: BootstrapNamespace, Labels: labels},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: b.Name()},
			Path:      "./",
			Prune:     true,
			Interval:  interval,
			PostBuild: &kustomizev1.PostBuild{Substitute: map[string]string{api.RegistryVariable: b.Registry}},
		},
	}
	if b.Insecure {
		ks.Spec.Patches = []kustomize.Patch{{
			Patch:  `[{"op": "add", "path": "/spec/insecure", "value": true}]`,
			Target: &kustomize.Selector{Group: sourcev1.GroupVersion.Group, Kind: sourcev1.OCIRepositoryKind},
		}}
	}
	for _, r := range b.Relocate {
		patch, err := json.Marshal([]map[string]any{{
			"op": "add", "path": "/spec/postRenderers",
			"value": []helmv2.PostRenderer{{Kustomize: &helmv2.Kustomize{Images: r.Images}}},
		}})
		if err != nil {
			return nil, err
		}
		ks.Spec.Patches = append(ks.Spec.Patches, kustomize.Patch{
			Patch:  string(patch),
			Target: &kustomize.Selector{Group: helmv2.GroupVersion.Group, Kind: helmv2.HelmReleaseKind, Name: r.Name, Namespace: r.Namespace},
		})
	}
	// Secrets by namespace: the verification key and the site's values.
	secrets := map[string][]*corev1.Secret{}
	secret := func(ns, name, key string, data []byte) {
		secrets[ns] = append(secrets[ns], &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Data:       map[string][]byte{key: data},
		})
	}
	if len(b.Site) > 0 {
		for _, ns := range slices.Compact(slices.Sorted(slices.Values(b.SiteNamespaces))) {
			secret(ns, SiteSecret, SiteValuesKey, b.Site)
		}
	}
	if len(b.VerifyKey) > 0 {
		verify := &sourcev1.OCIRepositoryVerification{Provider: "cosign", SecretRef: &meta.LocalObjectReference{Name: VerifySecret}}
		src.Spec.Verify = verify
		patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/spec/verify", "value": verify}})
		if err != nil {
			return nil, err
		}
		ks.Spec.Patches = append(ks.Spec.Patches, kustomize.Patch{
			Patch:  string(patch),
			Target: &kustomize.Selector{Group: sourcev1.GroupVersion.Group, Kind: sourcev1.OCIRepositoryKind},
		})
		seen := map[string]bool{}
		for _, ns := range append([]string{BootstrapNamespace}, b.VerifyNamespaces...) {
			if !seen[ns] {
				seen[ns] = true
				secret(ns, VerifySecret, "cosign.pub", b.VerifyKey)
			}
		}
	}
	var objs []any
	for _, ns := range slices.Sorted(maps.Keys(secrets)) {
		if ns != BootstrapNamespace {
			// The bundle makes it too, with its labels; what the Secrets
			// hold must be there before the releases and sources are.
			objs = append(objs, &corev1.Namespace{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: map[string]string{AnnotationPrune: "disabled"}},
			})
		}
		sort.Slice(secrets[ns], func(i, j int) bool { return secrets[ns][i].Name < secrets[ns][j].Name })
		for _, s := range secrets[ns] {
			objs = append(objs, s)
		}
	}
	return MarshalAll(append(objs, src, ks)...)
}
