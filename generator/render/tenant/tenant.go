// Package tenant renders the objects of one tenant: its namespace and the
// fences around it (impersonated service account, namespace-only rights,
// quota, limits, network isolation) and the Flux sources and releases of
// its app instances, all from the Kubernetes and Flux API types.
package tenant

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/render/flux"
)

// SiteConfigMap holds, in every tenant namespace, what differs between the
// sites a release is deployed to (the registry); the bootstrap Kustomization
// fills it in, and releases read it through valuesFrom.
const SiteConfigMap = "distgen-site"

// Remediation retries for install and upgrade.
const retries = 3

// AppURL is where a tenant's chart sources find an app chart: under the
// registry that bootstrap substitutes for ${DISTGEN_REGISTRY}.
func AppURL(app string) string { return "oci://${" + api.RegistryVariable + "}/apps/" + app }

// Rules are what a tenant's service account may do in its own namespace:
// run workloads and the apps' custom resources, and keep Helm's release
// records. It may not touch its quota, limits, network policies or RBAC.
var Rules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets", "services", "persistentvolumeclaims", "pods", "serviceaccounts", "endpoints", "events"}, Verbs: []string{"*"}},
	{APIGroups: []string{"apps", "batch", "autoscaling"}, Resources: []string{"*"}, Verbs: []string{"*"}},
	{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"*"}},
	{APIGroups: []string{"postgresql.cnpg.io"}, Resources: []string{"*"}, Verbs: []string{"*"}},
	{APIGroups: []string{"kubevirt.io", "cdi.kubevirt.io"}, Resources: []string{"*"}, Verbs: []string{"*"}},
	{APIGroups: []string{"cluster.x-k8s.io", "controlplane.cluster.x-k8s.io", "infrastructure.cluster.x-k8s.io", "bootstrap.cluster.x-k8s.io"}, Resources: []string{"*"}, Verbs: []string{"*"}},
	{APIGroups: []string{"source.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"}, Resources: []string{"*"}, Verbs: []string{"*"}},
}

// Render builds the files of one tenant's artifact. digests maps each app
// to the OCI manifest digest of its chart artifact.
func Render(b *api.TenantBundle, t *api.Tenant, parentNamespace string, digests map[string]string) ([]flux.File, error) {
	var base []any
	base = append(base, Namespace(b, t), ServiceAccount(b, t), Role(b, t), RoleBinding(b, t), Quota(b, t), LimitRange(b, t), SiteConfig(b, t))
	if t.Isolated {
		base = append(base, NetworkPolicy(b, t, parentNamespace))
	}
	tenantDoc, err := flux.MarshalAll(base...)
	if err != nil {
		return nil, err
	}
	files := []flux.File{{Path: "tenant.yaml", Data: tenantDoc}}
	used := map[string]bool{}
	for _, in := range t.Instances {
		used[in.App] = true
	}
	var appsUsed []string
	for a := range used {
		appsUsed = append(appsUsed, a)
	}
	sort.Strings(appsUsed)
	var sources []any
	for _, a := range appsUsed {
		d, ok := digests[a]
		if !ok {
			return nil, fmt.Errorf("tenant %q: no digest for app %q", t.Name, a)
		}
		sources = append(sources, OCIRepository(b, t, a, d))
	}
	if len(sources) > 0 {
		doc, err := flux.MarshalAll(sources...)
		if err != nil {
			return nil, err
		}
		files = append(files, flux.File{Path: "sources.yaml", Data: doc})
	}
	for _, in := range t.Instances {
		hr, err := HelmRelease(b, t, in)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: instance %q: %w", t.Name, in.Name, err)
		}
		doc, err := flux.MarshalAll(hr)
		if err != nil {
			return nil, err
		}
		files = append(files, flux.File{Path: "instances/" + in.Name + ".yaml", Data: doc})
	}
	return flux.WithKustomization(files)
}

func meta(b *api.TenantBundle, t *api.Tenant, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: t.Namespace, Labels: map[string]string{
		api.LabelManagedBy: api.ManagedBy, api.LabelBundle: b.Name, api.LabelTenant: t.Name,
	}}
}

// Namespace is the tenant's namespace, at the baseline Pod Security level.
// Flux never prunes it: removing a tenant must not delete its data.
func Namespace(b *api.TenantBundle, t *api.Tenant) *corev1.Namespace {
	m := meta(b, t, t.Namespace)
	m.Namespace = ""
	m.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	m.Labels["pod-security.kubernetes.io/warn"] = "restricted"
	if t.Parent != "" {
		m.Labels["distgen.io/parent-tenant"] = t.Parent
	}
	m.Annotations = map[string]string{flux.AnnotationPrune: "disabled"}
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: m}
}

// ServiceAccount is what Flux impersonates for the tenant's releases.
func ServiceAccount(b *api.TenantBundle, t *api.Tenant) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(b, t, api.TenantServiceAccount)}
}

// Role grants Rules in the tenant's namespace.
func Role(b *api.TenantBundle, t *api.Tenant) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: meta(b, t, api.TenantServiceAccount),
		Rules:      Rules,
	}
}

// RoleBinding binds the Role to the tenant's service account, in the
// tenant's namespace only.
func RoleBinding(b *api.TenantBundle, t *api.Tenant) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: meta(b, t, api.TenantServiceAccount),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: api.TenantServiceAccount},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: api.TenantServiceAccount, Namespace: t.Namespace}},
	}
}

// Quota is the tenant's ResourceQuota.
func Quota(b *api.TenantBundle, t *api.Tenant) *corev1.ResourceQuota {
	q := t.Quota
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: meta(b, t, "tenant"),
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourceRequestsCPU:     resource.MustParse(q.CPU),
			corev1.ResourceLimitsCPU:       resource.MustParse(q.CPU),
			corev1.ResourceRequestsMemory:  resource.MustParse(q.Memory),
			corev1.ResourceLimitsMemory:    resource.MustParse(q.Memory),
			corev1.ResourceRequestsStorage: resource.MustParse(q.Storage),
			corev1.ResourcePods:            *resource.NewQuantity(int64(q.Pods), resource.DecimalSI),
		}},
	}
}

// LimitRange gives containers that set none the tenant's default requests
// and limits, so the quota can count them.
func LimitRange(b *api.TenantBundle, t *api.Tenant) *corev1.LimitRange {
	l := t.Limits
	return &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: meta(b, t, "tenant"),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Default:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(l.DefaultCPU), corev1.ResourceMemory: resource.MustParse(l.DefaultMemory)},
			DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(l.DefaultRequestCPU), corev1.ResourceMemory: resource.MustParse(l.DefaultRequestMemory)},
		}}},
	}
}

// NetworkPolicy denies ingress to every pod of the tenant except from the
// tenant's own pods and, for a nested tenant, its parent's namespace.
func NetworkPolicy(b *api.TenantBundle, t *api.Tenant, parentNamespace string) *networkingv1.NetworkPolicy {
	from := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	if parentNamespace != "" {
		from = append(from, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{corev1.LabelMetadataName: parentNamespace},
		}})
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: networkingv1.SchemeGroupVersion.String(), Kind: "NetworkPolicy"},
		ObjectMeta: meta(b, t, "tenant-isolation"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: from}},
		},
	}
}

// SiteConfig carries the site's registry into the tenant's namespace.
func SiteConfig(b *api.TenantBundle, t *api.Tenant) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(b, t, SiteConfigMap),
		Data:       map[string]string{"registry": "${" + api.RegistryVariable + "}"},
	}
}

// OCIRepository is the source of an app chart in the tenant's namespace,
// pinned by digest.
func OCIRepository(b *api.TenantBundle, t *api.Tenant, app, digest string) *sourcev1.OCIRepository {
	return &sourcev1.OCIRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
		ObjectMeta: meta(b, t, "app-"+app),
		Spec: sourcev1.OCIRepositorySpec{
			URL:           AppURL(app),
			Reference:     &sourcev1.OCIRepositoryRef{Digest: digest},
			LayerSelector: &sourcev1.OCILayerSelector{MediaType: api.MediaTypeHelmChart, Operation: sourcev1.OCILayerCopy},
			Interval:      metav1.Duration{Duration: 10 * time.Minute},
		},
	}
}

// HelmRelease installs an instance as the tenant's service account, from
// the chart source in the tenant's own namespace.
func HelmRelease(b *api.TenantBundle, t *api.Tenant, in *api.Instance) (*helmv2.HelmRelease, error) {
	timeout := flux.Duration(in.Timeout)
	m := meta(b, t, in.Name)
	m.Labels["distgen.io/app"] = in.App
	// Values are the tenant's: a "${...}" in them is not Flux's to fill.
	m.Annotations = map[string]string{flux.AnnotationSubstitute: "disabled"}
	hr := &helmv2.HelmRelease{
		TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: m,
		Spec: helmv2.HelmReleaseSpec{
			ChartRef:           &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "app-" + in.App},
			ReleaseName:        in.Name,
			ServiceAccountName: api.TenantServiceAccount,
			Interval:           flux.Duration(in.Interval),
			Timeout:            &timeout,
			Install: &helmv2.Install{
				DisableWait: !in.Wait,
				Remediation: &helmv2.InstallRemediation{Retries: retries},
			},
			Upgrade: &helmv2.Upgrade{
				DisableWait: !in.Wait,
				Remediation: &helmv2.UpgradeRemediation{Retries: retries, RemediateLastFailure: ptr(true)},
			},
			// Every app can read the site's registry at .Values.registry.
			ValuesFrom: []helmv2.ValuesReference{{Kind: "ConfigMap", Name: SiteConfigMap, ValuesKey: "registry", TargetPath: "registry", Optional: true}},
		},
	}
	if len(in.Values) > 0 {
		raw, err := json.Marshal(in.Values)
		if err != nil {
			return nil, fmt.Errorf("values: %w", err)
		}
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: raw}
	}
	return hr, nil
}

func ptr[T any](v T) *T { return &v }
