//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/generator/artifact"
	"github.com/distgen/distgen/generator/mirror"
	"github.com/distgen/distgen/tests/fixture"
)

var (
	ksGVR = kustomizev1.GroupVersion.WithResource("kustomizations")
	cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// The tenant stack is a second cluster side, locked down the way a
// multi-tenant platform runs Flux: helm-controller impersonates the tenant
// service account when a release names none, and no Flux object may refer
// to a source in another namespace. It also serves minimal CRDs for the
// kinds the app charts create.
var (
	tenantOnce    sync.Once
	tenantCluster *stack
	tenantErr     error
)

func tenantStack(t *testing.T) *stack {
	t.Helper()
	tenantOnce.Do(func() {
		crds, err := filepath.Abs(filepath.Join("testdata", "app-crds.yaml"))
		if err != nil {
			tenantErr = err
			return
		}
		start := time.Now()
		tenantCluster, tenantErr = startStack(stackBin, stackOptions{
			helmArgs:      []string{"--no-cross-namespace-refs=true", "--default-service-account=" + api.TenantServiceAccount},
			kustomizeArgs: []string{"--no-cross-namespace-refs=true"},
			crds:          []string{crds},
		})
		if tenantErr == nil {
			t.Logf("tenant stack up in %s (registry %s, logs in %s)", time.Since(start).Round(time.Millisecond), tenantCluster.registry, tenantCluster.dir)
		}
	})
	if tenantErr != nil {
		t.Fatalf("starting the tenant stack: %v", tenantErr)
	}
	return tenantCluster
}

// stopTenantStack stops the tenant stack if a test started it, and keeps
// its logs when the run failed.
func stopTenantStack(code int) {
	if tenantCluster == nil {
		return
	}
	tenantCluster.stop()
	if code == 0 {
		os.RemoveAll(tenantCluster.dir)
	} else {
		fmt.Fprintf(os.Stderr, "tenant stack logs are in %s\n", filepath.Join(tenantCluster.dir, "logs"))
	}
}

// tenantRelease builds a tenant bundle of the project at dir, pushes it
// under prefix and applies the bootstrap of every tenant: pinned to the
// digests of the build's release.json, or, with resolve, to those the
// registry serves for each tenant's reference.
func tenantRelease(t *testing.T, s *stack, dir, bundle, prefix string, resolve bool) *api.TenantRelease {
	t.Helper()
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), bundle)
	start := time.Now()
	built, err := (&action.TenantBuild{TenantProject: action.TenantProject{Dir: dir, Bundle: bundle}, Out: out}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tenant build of %s: %d tenants, %s", bundle, len(built.Release.Tenants), time.Since(start).Round(time.Millisecond))
	to := "oci://" + s.registry + "/" + prefix
	pushed, err := (&action.TenantPush{Dir: out, To: to, PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tenant push of %s: %d artifacts, %d bytes uploaded", bundle, len(pushed.Artifacts), pushed.Bytes)
	b := &action.TenantBootstrap{From: []string{to}, Release: out, PlainHTTP: true, Interval: time.Minute}
	if resolve {
		b.From, b.Release = nil, ""
		for _, tn := range built.Release.Tenants {
			b.From = append(b.From, to+"/"+action.TenantsDir+"/"+tn.Name+":"+tn.Version)
		}
	}
	boot, err := b.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.apply(ctx, boot); err != nil {
		t.Fatal(err)
	}
	return built.Release
}

// waitFailed waits until a HelmRelease is not Ready for a reason whose
// message holds want, and returns the message.
func (s *stack) waitFailed(t *testing.T, namespace, name, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if obj := s.getObj(t, hrGVR, namespace, name); obj != nil {
			conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Ready" {
					last = fmt.Sprintf("%v %v: %v", m["status"], m["reason"], m["message"])
					if m["status"] == "False" && strings.Contains(fmt.Sprint(m["message"]), want) {
						return last
					}
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("HelmRelease %s/%s never failed with %q; last Ready: %s", namespace, name, want, last)
	return ""
}

// pushEvilChart pushes a chart whose only object is a ConfigMap in the
// namespace it is told, whatever namespace it is installed in.
func pushEvilChart(t *testing.T, s *stack, victim string) string {
	t.Helper()
	archive, err := artifact.Tarball([]artifact.File{
		{Path: "evil/Chart.yaml", Data: []byte("apiVersion: v2\nname: evil\nversion: 0.1.0\n")},
		{Path: "evil/templates/configmap.yaml", Data: fmt.Appendf(nil,
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: planted\n  namespace: %s\ndata:\n  from: \"{{ .Release.Namespace }}\"\n", victim)},
	}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	img, err := artifact.Chart(archive, time.Unix(0, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(s.registry+"/evil/evil:0.1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return "oci://" + s.registry + "/evil/evil"
}

// Two tenants, one nested in the other, reconcile to Ready with every
// release impersonating the tenant's service account; a tenant cannot write
// into another tenant's namespace nor read another namespace's chart
// source; and a change to one tenant leaves the other's releases alone.
func TestTenants(t *testing.T) {
	s := tenantStack(t)
	ctx := context.Background()
	root := fixture.Copy(t, "../..", "versions.cue", "bundles", "packages", "schemas", "cue.mod")
	bundles := filepath.Join(root, "bundles", "tenants.cue")
	// No kubelet runs here: a StatefulSet never gets ready pods, and the
	// tenant cluster's add-ons wait for a cluster that never comes up. Those
	// two instances do not wait; the others are custom resources.
	fixture.Edit(t, bundles, `cache: app: "redis"`, `cache: {app: "redis", wait: false}`)
	fixture.Edit(t, bundles, `app: "kubernetes"`, "app: \"kubernetes\"\n\t\t\t\t\twait: false")
	start := time.Now()
	rel := tenantRelease(t, s, root, "customers", "platform", false)
	instances := 0
	for _, tn := range rel.Tenants {
		instances += len(tn.Instances)
	}
	hrs := s.waitReady(t, api.LabelBundle+"=customers", instances, 5*time.Minute, nil)
	t.Logf("tenants: %d tenants, %d HelmReleases Ready %s after bootstrap", len(rel.Tenants), len(hrs), time.Since(start).Round(time.Millisecond))

	t.Run("objects in each tenant's namespace", func(t *testing.T) {
		for _, hr := range hrs {
			if hr.Spec.ServiceAccountName != api.TenantServiceAccount || hr.Spec.ChartRef == nil || hr.Spec.ChartRef.Namespace != "" {
				t.Errorf("%s/%s: service account %q, chart %+v", hr.Namespace, hr.Name, hr.Spec.ServiceAccountName, hr.Spec.ChartRef)
			}
		}
		for gvr, obj := range map[schema.GroupVersionResource][2]string{
			{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}:                                    {"tenant-acme", "db"},
			{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}:                                    {"tenant-acme-dev", "db"},
			{Group: "apps", Version: "v1", Resource: "statefulsets"}:                                              {"tenant-acme", "cache"},
			{Group: "cluster.x-k8s.io", Version: "v1beta1", Resource: "clusters"}:                                 {"tenant-acme", "k8s"},
			{Group: "controlplane.cluster.x-k8s.io", Version: "v1alpha1", Resource: "kamajicontrolplanes"}:        {"tenant-acme", "k8s"},
			{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}:                                    {"tenant-acme-dev", "builder"},
			{Version: "v1", Resource: "resourcequotas"}:                                                           {"tenant-acme-dev", "tenant"},
			{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}:                              {"tenant-acme", "tenant-isolation"},
			{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}:                         {"tenant-acme", api.TenantServiceAccount},
			{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}:                            {"tenant-acme", "k8s-cni"},
			{Group: "infrastructure.cluster.x-k8s.io", Version: "v1alpha1", Resource: "kubevirtmachinetemplates"}: {"tenant-acme", "k8s-workers"},
		} {
			if s.getObj(t, gvr, obj[0], obj[1]) == nil {
				t.Errorf("no %s %s/%s", gvr.Resource, obj[0], obj[1])
			}
		}
	})

	t.Run("a chart writing into another tenant is forbidden", func(t *testing.T) {
		url := pushEvilChart(t, s, "tenant-acme-dev")
		// The release names no service account: the controller's default,
		// the tenant's own, is impersonated all the same.
		if err := s.apply(ctx, fmt.Appendf(nil, `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: evil, namespace: tenant-acme}
spec:
  url: %s
  ref: {tag: 0.1.0}
  insecure: true
  interval: 1m
  layerSelector: {mediaType: %s, operation: copy}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: evil, namespace: tenant-acme}
spec:
  interval: 1m
  releaseName: evil
  chartRef: {kind: OCIRepository, name: evil}
`, url, api.MediaTypeHelmChart)); err != nil {
			t.Fatal(err)
		}
		msg := s.waitFailed(t, "tenant-acme", "evil", "forbidden", 2*time.Minute)
		if !strings.Contains(msg, "system:serviceaccount:tenant-acme:"+api.TenantServiceAccount) || !strings.Contains(msg, `namespace "tenant-acme-dev"`) {
			t.Errorf("refused, but not as the tenant's service account in the other namespace: %s", msg)
		}
		t.Logf("refused: %s", msg)
		if cm := s.getObj(t, cmGVR, "tenant-acme-dev", "planted"); cm != nil {
			t.Errorf("the chart created %s/%s", cm.GetNamespace(), cm.GetName())
		}
	})

	t.Run("a chart source in another namespace is refused", func(t *testing.T) {
		if err := s.apply(ctx, []byte(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: borrowed, namespace: tenant-acme}
spec:
  interval: 1m
  releaseName: borrowed
  serviceAccountName: tenant-reconciler
  chartRef: {kind: OCIRepository, name: app-postgres, namespace: tenant-acme-dev}
  install: {disableWait: true}
`)); err != nil {
			t.Fatal(err)
		}
		msg := s.waitFailed(t, "tenant-acme", "borrowed", "cross-namespace", time.Minute)
		t.Logf("refused: %s", msg)
		if obj := s.getObj(t, schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}, "tenant-acme", "borrowed"); obj != nil {
			t.Error("the borrowed chart was installed")
		}
	})

	t.Run("a change to one tenant leaves the other alone", func(t *testing.T) {
		sel := api.LabelTenant + "=acme-dev"
		before := map[string]helmv2.HelmRelease{}
		for _, hr := range s.releases(t, sel) {
			before[hr.Name] = hr
		}
		ksBefore := s.getObj(t, ksGVR, "flux-system", "distgen-tenant-acme-dev")
		fixture.Edit(t, bundles, "values: {instances: 3,", "values: {instances: 2,")
		fixture.Edit(t, bundles, "\t\tacme: {\n", "\t\tacme: {\n\t\t\tversion: \"0.1.1\"\n")
		start := time.Now()
		again := tenantRelease(t, s, root, "customers", "platform", false)
		for i, tn := range again.Tenants {
			if changed := tn.Artifact.Digest != rel.Tenants[i].Artifact.Digest; changed != (tn.Name == "acme") {
				t.Errorf("tenant %s: digest changed %t", tn.Name, changed)
			}
		}
		s.waitReady(t, api.LabelTenant+"=acme", 3, 3*time.Minute, func(hr helmv2.HelmRelease) bool {
			return hr.Name != "db" || hr.Status.History.Latest().Version == 2
		})
		t.Logf("acme's change reconciled %s after its bootstrap was applied", time.Since(start).Round(time.Millisecond))
		db := s.getObj(t, schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}, "tenant-acme", "db")
		if n, _, _ := unstructured.NestedInt64(db.Object, "spec", "instances"); n != 2 {
			t.Errorf("acme's postgres has %d instances, want 2", n)
		}
		// Give acme-dev's Kustomization a chance to misbehave: one more
		// reconciliation of acme's, then compare.
		time.Sleep(5 * time.Second)
		after := s.releases(t, sel)
		if len(after) != len(before) {
			t.Fatalf("acme-dev has %d releases, had %d", len(after), len(before))
		}
		for _, hr := range after {
			was := before[hr.Name]
			if hr.Generation != was.Generation || hr.Status.History.Latest().Version != was.Status.History.Latest().Version ||
				hr.Status.LastAttemptedRevision != was.Status.LastAttemptedRevision {
				t.Errorf("acme-dev's %s changed: generation %d→%d, revision %d→%d", hr.Name, was.Generation, hr.Generation,
					was.Status.History.Latest().Version, hr.Status.History.Latest().Version)
			}
		}
		ksAfter := s.getObj(t, ksGVR, "flux-system", "distgen-tenant-acme-dev")
		for _, f := range [][]string{{"metadata", "generation"}, {"status", "lastAppliedRevision"}} {
			b, _, _ := unstructured.NestedFieldNoCopy(ksBefore.Object, f...)
			a, _, _ := unstructured.NestedFieldNoCopy(ksAfter.Object, f...)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("acme-dev's Kustomization %s: %v → %v", strings.Join(f, "."), b, a)
			}
		}
	})
}

// Ten tenants with three apps each reconcile to Ready, bootstrapped the way
// an operator does it: one reference per tenant, resolved in the registry.
func TestTenantsReconcile10(t *testing.T) {
	s := tenantStack(t)
	root := fixture.Copy(t, "../..", "versions.cue", "bundles", "packages", "schemas", "cue.mod")
	if err := os.WriteFile(filepath.Join(root, catalog.TenantsFile), []byte(catalog.Tenants("load", 10, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rel := tenantRelease(t, s, root, "load", "load", true)
	hrs := s.waitReady(t, api.LabelBundle+"=load", 30, 5*time.Minute, nil)
	t.Logf("10 tenants: %d HelmReleases Ready %s after the build started", len(hrs), time.Since(start).Round(time.Millisecond))
	if len(rel.Tenants) != 10 {
		t.Errorf("%d tenants released", len(rel.Tenants))
	}
}

// An air-gapped tenant: its release is mirrored from the origin prefix to
// the site's, and bootstrapped from the site with its images relocated; the
// real helm-controller renders the tenant's StatefulSet with the mirror's
// image.
func TestTenantAirGap(t *testing.T) {
	s := tenantStack(t)
	ctx := context.Background()
	upstream := s.registry + "/upstream/redis:7.4.2"
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(upstream, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	root := fixture.Copy(t, "../..", "versions.cue", "bundles", "packages", "schemas", "cue.mod")
	fixture.Edit(t, filepath.Join(root, "packages", "apps", "redis", "values.yaml"), "image: docker.io/library/redis:7.4.2", "image: "+upstream)
	if err := os.WriteFile(filepath.Join(root, "bundles", "airgap.cue"), []byte(`package bundles

tenantBundles: airgap: {
	version: "1.0.0"
	tenants: solo: {
		quota: {cpu: "2", memory: "4Gi"}
		apps: ["redis"]
		instances: cache: {app: "redis", wait: false}
	}
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "airgap")
	built, err := (&action.TenantBuild{TenantProject: action.TenantProject{Dir: root, Bundle: "airgap"}, Out: out}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&action.TenantPush{Dir: out, To: "oci://" + s.registry + "/origin", PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	solo := built.Release.Tenants[0]
	mirrored, err := (&action.Mirror{From: "oci://" + s.registry + "/origin/tenants/solo:" + solo.Version, To: "oci://" + s.registry + "/site", PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mirrored %d artifacts, %d bytes", len(mirrored.Artifacts), mirrored.Bytes)
	boot, err := (&action.TenantBootstrap{From: []string{"oci://" + s.registry + "/site/tenants/solo:" + solo.Version}, PlainHTTP: true, RelocateImages: true, Interval: time.Minute}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.apply(ctx, boot); err != nil {
		t.Fatal(err)
	}
	s.waitReady(t, api.LabelBundle+"=airgap", 1, 3*time.Minute, nil)
	sts := s.getObj(t, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, solo.Namespace, "cache")
	if sts == nil {
		t.Fatal("no StatefulSet cache")
	}
	containers, _, _ := unstructured.NestedSlice(sts.Object, "spec", "template", "spec", "containers")
	want, err := mirror.RelocatedRef(s.registry+"/site", upstream)
	if err != nil {
		t.Fatal(err)
	}
	if len(containers) == 0 || containers[0].(map[string]any)["image"] != want {
		t.Errorf("redis runs %v, want the mirror's %s", containers, want)
	}
	src := s.getObj(t, ociGVR, solo.Namespace, "app-redis")
	if url, _, _ := unstructured.NestedString(src.Object, "spec", "url"); url != "oci://"+s.registry+"/site/apps/redis" {
		t.Errorf("the redis chart comes from %s, want the site", url)
	}
}
