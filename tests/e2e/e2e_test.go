//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/tests/fixture"
)

var (
	crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	hrGVR  = helmv2.GroupVersion.WithResource("helmreleases")
	ociGVR = sourcev1.GroupVersion.WithResource("ocirepositories")
)

var (
	cluster  *stack
	stackBin string // the cached binaries, for stacks started by a test
)

func TestMain(m *testing.M) {
	flag.Parse()
	bin := os.Getenv("DISTGEN_E2E_BIN")
	if bin == "" {
		out, err := exec.Command("bash", "stack.sh", "build").Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building the e2e stack: %v\n", err)
			os.Exit(1)
		}
		bin = strings.TrimSpace(string(out))
	}
	stackBin = bin
	start := time.Now()
	s, err := startStack(bin, stackOptions{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the e2e stack: %v\nlogs in %s\n", err, s.dir)
		s.stop()
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e stack up in %s (registry %s, logs in %s)\n", time.Since(start).Round(time.Millisecond), s.registry, s.dir)
	cluster = s
	code := m.Run()
	s.stop()
	stopTenantStack(code)
	if code == 0 {
		os.RemoveAll(s.dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e failed; process logs are in %s\n", filepath.Join(s.dir, "logs"))
	}
	os.Exit(code)
}

// release builds a bundle of the project at dir, pushes it under prefix and
// applies its bootstrap; it returns the build's output.
func release(t *testing.T, dir, bundle, prefix string) *action.BuildResult {
	t.Helper()
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), bundle)
	built, err := (&action.Build{Project: action.Project{Dir: dir, Bundle: bundle}, Out: out}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	to := "oci://" + cluster.registry + "/" + prefix
	start := time.Now()
	pushed, err := (&action.Push{From: out, To: to, PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("push of %s %s: %d artifacts, %d bytes uploaded, %s", bundle, built.Release.Version, len(pushed.Artifacts), pushed.Bytes, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	again, err := (&action.Push{From: out, To: to, PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Bytes != 0 {
		t.Errorf("no-op push uploaded %d bytes", again.Bytes)
	}
	t.Logf("no-op push of %s %s: %d bytes uploaded, %s", bundle, built.Release.Version, again.Bytes, time.Since(start).Round(time.Millisecond))
	boot, err := (&action.Bootstrap{From: to + "/bundles/" + bundle + ":" + built.Release.Version, PlainHTTP: true, Interval: time.Minute}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.apply(ctx, boot); err != nil {
		t.Fatal(err)
	}
	return built
}

// releases lists the HelmReleases of a bundle.
func releases(t *testing.T, bundle string) []helmv2.HelmRelease {
	return cluster.releases(t, api.LabelBundle+"="+bundle)
}

// releases lists the HelmReleases a label selector selects.
func (s *stack) releases(t *testing.T, selector string) []helmv2.HelmRelease {
	t.Helper()
	list, err := s.client.Resource(hrGVR).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]helmv2.HelmRelease, len(list.Items))
	for i := range list.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func ready(conds []metav1.Condition) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == "Ready" {
			return &conds[i]
		}
	}
	return nil
}

// waitReady waits until the bundle's n HelmReleases are Ready, each at the
// revision want returns for it, and returns them.
func waitReady(t *testing.T, bundle string, n int, timeout time.Duration, want func(helmv2.HelmRelease) bool) []helmv2.HelmRelease {
	t.Helper()
	return cluster.waitReady(t, api.LabelBundle+"="+bundle, n, timeout, want)
}

// waitReady waits until the n HelmReleases selector selects are Ready, each
// at the revision want returns for it, and returns them.
func (s *stack) waitReady(t *testing.T, selector string, n int, timeout time.Duration, want func(helmv2.HelmRelease) bool) []helmv2.HelmRelease {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var hrs []helmv2.HelmRelease
	for time.Now().Before(deadline) {
		hrs = s.releases(t, selector)
		done := 0
		for _, hr := range hrs {
			if c := ready(hr.Status.Conditions); c != nil && c.Status == metav1.ConditionTrue && hr.Status.ObservedGeneration == hr.Generation && (want == nil || want(hr)) {
				done++
			}
		}
		if done == n && len(hrs) == n {
			return hrs
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, hr := range hrs {
		if c := ready(hr.Status.Conditions); c == nil || c.Status != metav1.ConditionTrue {
			t.Logf("%s/%s not ready: %+v", hr.Namespace, hr.Name, c)
		}
	}
	t.Fatalf("%d HelmReleases of %s, not all %d Ready after %s", len(hrs), selector, n, timeout)
	return nil
}

// checkOrder asserts that no release was installed before every release it
// depends on was Ready, from the releases' status and history.
func checkOrder(t *testing.T, hrs []helmv2.HelmRelease) {
	t.Helper()
	byName := map[string]helmv2.HelmRelease{}
	for _, hr := range hrs {
		byName[hr.Namespace+"/"+hr.Name] = hr
	}
	checked := 0
	for _, hr := range hrs {
		if len(hr.Status.History) == 0 {
			t.Errorf("%s has no history", hr.Name)
			continue
		}
		installed := hr.Status.History[len(hr.Status.History)-1].FirstDeployed.Time
		for _, d := range hr.Spec.DependsOn {
			dep, ok := byName[d.Namespace+"/"+d.Name]
			if !ok {
				t.Errorf("%s depends on unknown %s/%s", hr.Name, d.Namespace, d.Name)
				continue
			}
			depReady := ready(dep.Status.Conditions).LastTransitionTime.Time
			if installed.Before(depReady) {
				t.Errorf("%s was installed at %s, before %s was Ready at %s", hr.Name, installed, dep.Name, depReady)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no dependency was checked")
	}
}

// get reads an object of the shared stack that must exist.
func get(t *testing.T, gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	obj := cluster.getObj(t, gvr, namespace, name)
	if obj == nil {
		t.Fatalf("%s %s/%s: not found", gvr.Resource, namespace, name)
	}
	return obj
}

func TestDemoBundle(t *testing.T) {
	root := fixture.Copy(t, "../..", "versions.cue", "bundles", "packages", "schemas", "cue.mod")
	built := release(t, root, "demo", "demo")
	start := time.Now() // the bootstrap is applied
	n := len(built.Release.Components)
	hrs := waitReady(t, "demo", n, 4*time.Minute, nil)
	t.Logf("demo: %d HelmReleases Ready %s after bootstrap", n, time.Since(start).Round(time.Millisecond))

	t.Run("objects exist", func(t *testing.T) {
		for _, o := range []struct {
			gvr       schema.GroupVersionResource
			namespace string
			name      string
		}{
			{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "dg-monitoring", "monitoring-config"},
			{schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}, "tenant-demo", "demo"},
			{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}, "", "distgen"},
			{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, "tenant-demo", "demo-isolation"},
			{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "dg-monitoring", "log-shipper"},
			{schema.GroupVersionResource{Group: "platform.distgen.io", Version: "v1alpha1", Resource: "tenants"}, "tenant-root", "root"},
			{schema.GroupVersionResource{Group: "monitoring.distgen.io", Version: "v1alpha1", Resource: "dashboards"}, "dg-monitoring", "tenants"},
			{schema.GroupVersionResource{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses"}, "", "platform-critical"},
		} {
			get(t, o.gvr, o.namespace, o.name)
		}
		ns := get(t, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", "dg-monitoring")
		if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "privileged" {
			t.Errorf("privileged namespace labels %v", ns.GetLabels())
		}
	})

	t.Run("dependency order", func(t *testing.T) { checkOrder(t, hrs) })

	t.Run("bundle digest applied", func(t *testing.T) {
		src := get(t, ociGVR, "flux-system", "distgen-demo")
		rev, _, _ := unstructured.NestedString(src.Object, "status", "artifact", "revision")
		if !strings.HasSuffix(rev, built.Release.Artifact.Digest) {
			t.Errorf("cluster applied %q, build printed %s", rev, built.Release.Artifact.Digest)
		}
	})

	t.Run("helm pulls a pushed chart", func(t *testing.T) {
		c := built.Release.Components[len(built.Release.Components)-1]
		ran := 0
		for _, env := range []string{"DISTGEN_HELM3", "DISTGEN_HELM4"} {
			bin := os.Getenv(env)
			if bin == "" {
				continue
			}
			ran++
			dir := t.TempDir()
			helmEnv := append(os.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir)
			pull := exec.Command(bin, "pull", "oci://"+cluster.registry+"/demo/"+c.Chart.Repository, "--version", c.Chart.Tag, "--plain-http", "-d", dir)
			pull.Env = helmEnv
			if b, err := pull.CombinedOutput(); err != nil {
				t.Fatalf("%s pull: %v\n%s", env, err, b)
			}
			tmpl := exec.Command(bin, "template", c.ReleaseName, filepath.Join(dir, filepath.Base(c.Chart.File)), "--set", "tenant=demo")
			tmpl.Env = helmEnv
			if b, err := tmpl.CombinedOutput(); err != nil || !strings.Contains(string(b), "kind: ResourceQuota") {
				t.Errorf("%s template of the pulled chart: %v\n%s", env, err, b)
			}
		}
		if ran == 0 {
			t.Skip("DISTGEN_HELM3/DISTGEN_HELM4 not set (make e2e sets them)")
		}
	})

	t.Run("pinning", func(t *testing.T) {
		// Re-point a chart's tag at other content: nothing in the cluster moves.
		c := built.Release.Components[0]
		ref, _ := name.ParseReference(cluster.registry+"/demo/"+c.Chart.Repository+":"+c.Chart.Tag, name.Insecure)
		orig, err := remote.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, _ := random.Image(512, 1)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		// Put the tag back afterwards: the next push would refuse to move
		// it again (distgen push's tag policy).
		defer func() {
			if err := remote.Write(ref, orig); err != nil {
				t.Fatal(err)
			}
		}()
		token := time.Now().Format(time.RFC3339Nano)
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, token)
		if _, err := cluster.client.Resource(ociGVR).Namespace(c.Namespace).Patch(context.Background(), c.Name, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			src := get(t, ociGVR, c.Namespace, c.Name)
			handled, _, _ := unstructured.NestedString(src.Object, "status", "lastHandledReconcileAt")
			rev, _, _ := unstructured.NestedString(src.Object, "status", "artifact", "revision")
			if handled == token {
				if !strings.HasSuffix(rev, c.Chart.Digest) {
					t.Errorf("chart source of %s moved to %s", c.Name, rev)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the chart source did not reconcile")
			}
			time.Sleep(300 * time.Millisecond)
		}
		for _, hr := range releases(t, "demo") {
			if hr.Status.History.Latest().Version != 1 {
				t.Errorf("%s is at revision %d after its tag moved", hr.Name, hr.Status.History.Latest().Version)
			}
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		// Version 2: one component's values change; only it upgrades.
		fixture.Edit(t, filepath.Join(root, "versions.cue"), `distribution: "0.1.0"`, `distribution: "0.2.0"`)
		fixture.Edit(t, filepath.Join(root, "bundles", "demo.cue"), `values: retention: "14d"`, `values: retention: "30d"`)
		v2 := release(t, root, "demo", "demo")
		start := time.Now()
		if v2.Release.Version != "0.2.0" {
			t.Fatalf("version %s", v2.Release.Version)
		}
		hrs := waitReady(t, "demo", n, 3*time.Minute, func(hr helmv2.HelmRelease) bool {
			return hr.Name != "monitoring-config" || hr.Status.History.Latest().Version == 2
		})
		t.Logf("upgrade to 0.2.0 reconciled %s after its bootstrap was applied", time.Since(start).Round(time.Millisecond))
		for _, hr := range hrs {
			want := 1
			if hr.Name == "monitoring-config" {
				want = 2
			}
			if got := hr.Status.History.Latest().Version; got != want {
				t.Errorf("%s at revision %d, want %d", hr.Name, got, want)
			}
		}
		cm := get(t, schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "dg-monitoring", "monitoring-config")
		if v, _, _ := unstructured.NestedString(cm.Object, "data", "retention"); v != "30d" {
			t.Errorf("retention %q after the upgrade", v)
		}
	})

	t.Run("images relocated to the mirror", func(t *testing.T) {
		// Bootstrap for a mirror: the same bundle digest, every image from
		// the registry's images/ copy, through Helm post-renderers.
		ctx := context.Background()
		boot, err := (&action.Bootstrap{From: "oci://" + cluster.registry + "/demo/bundles/demo:0.2.0", PlainHTTP: true, RelocateImages: true, Interval: time.Minute}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cluster.apply(ctx, boot); err != nil {
			t.Fatal(err)
		}
		want := cluster.registry + "/demo/images/docker.io/fluent/fluent-bit:3.2.4"
		deadline := time.Now().Add(2 * time.Minute)
		for {
			ds := get(t, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "dg-monitoring", "log-shipper")
			containers, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "containers")
			image, _ := containers[0].(map[string]any)["image"].(string)
			if image == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("log-shipper pulls %q, want %q", image, want)
			}
			time.Sleep(500 * time.Millisecond)
		}
		src := get(t, ociGVR, "flux-system", "distgen-demo")
		rev, _, _ := unstructured.NestedString(src.Object, "status", "artifact", "revision")
		if !strings.Contains(rev, "sha256:") {
			t.Errorf("bundle revision %q", rev)
		}
	})
}

// A generated bundle of 20 components over 9 dependency levels reconciles
// in dependency order.
func TestFixtureBundle(t *testing.T) {
	dir := t.TempDir()
	if err := catalog.WriteOptions(dir, catalog.Options{N: 20, Seed: 7, NoWait: true, Small: true}); err != nil {
		t.Fatal(err)
	}
	built := release(t, dir, "bench", "fixture")
	start := time.Now()
	hrs := waitReady(t, "bench", len(built.Release.Components), 5*time.Minute, nil)
	t.Logf("fixture: %d HelmReleases over %d levels Ready %s after bootstrap", len(hrs), catalog.Levels, time.Since(start).Round(time.Millisecond))
	checkOrder(t, hrs)
	for _, c := range built.Release.Components {
		get(t, schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, c.Namespace, c.ReleaseName)
	}

	// One component's chart changes (a new chart version): only its chart
	// and the bundle are uploaded, only its release upgrades.
	changed := built.Release.Components[len(built.Release.Components)/2]
	versions := filepath.Join(dir, "versions.cue")
	line := fmt.Sprintf("%s: chart: %q", changed.Name, changed.Chart.Tag)
	fixture.Edit(t, versions, line, fmt.Sprintf("%s: chart: %q", changed.Name, "9.9.9"))
	fixture.Edit(t, versions, `distribution: "1.0.0"`, `distribution: "1.1.0"`)
	release(t, dir, "bench", "fixture")
	start = time.Now()
	hrs = waitReady(t, "bench", len(built.Release.Components), 3*time.Minute, func(hr helmv2.HelmRelease) bool {
		return hr.Name != changed.Name || hr.Status.History.Latest().Version == 2
	})
	t.Logf("fixture: one chart changed, reconciled %s after its bootstrap was applied", time.Since(start).Round(time.Millisecond))
	for _, hr := range hrs {
		want := 1
		if hr.Name == changed.Name {
			want = 2
		}
		if got := hr.Status.History.Latest().Version; got != want {
			t.Errorf("%s at revision %d, want %d", hr.Name, got, want)
		}
	}
}

// externalCRDs applies CRDs that take any spec for kinds a bundle
// declares external (its operators register them at runtime), as the
// site's operators would, so the releases that use them can install. Each
// kind is "[Cluster:]group/version/Kind".
func externalCRDs(t *testing.T, kinds ...string) {
	t.Helper()
	var docs []string
	for _, k := range kinds {
		docs = append(docs, fixture.CRD(k, fixture.AnySpec))
	}
	ctx := context.Background()
	if err := cluster.apply(ctx, []byte(strings.Join(docs, "---\n"))); err != nil {
		t.Fatal(err)
	}
	if err := cluster.waitCRDs(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// The full platform bundle (79 enabled components over 9 dependency
// levels, its upstream charts vendored as fixtures that ship the CRDs the
// real ones do) reconciles on the real Flux controllers in dependency
// order; its workloads are not waited for, as no kubelet runs them.
func TestPlatformBundle(t *testing.T) {
	root := fixture.Copy(t, "../..", fixture.ProjectSources...)
	fixture.VendorUpstream(t, root)
	fixture.Write(t, filepath.Join(root, "bundles", "zz_e2e.cue"), "package bundles\n\n// No kubelet runs the workloads.\nbundles: platform: components: [string]: wait: false\n")
	externalCRDs(t,
		"Cluster:cilium.io/v2/CiliumClusterwideNetworkPolicy",
		"kubevirt.io/v1/KubeVirt",
		"Cluster:instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype",
		"Cluster:cdi.kubevirt.io/v1beta1/CDI",
	)
	built := release(t, root, "platform", "platform")
	start := time.Now()
	n := len(built.Release.Components)
	if n != 79 {
		t.Fatalf("%d components, want 79", n)
	}
	hrs := waitReady(t, "platform", n, 4*time.Minute, nil)
	t.Logf("platform: %d HelmReleases in %d namespaces Ready %s after bootstrap", n, namespaces(built.Release.Components), time.Since(start).Round(time.Millisecond))
	checkOrder(t, hrs)
	// A custom resource of a CRD a fixture upstream chart installs.
	get(t, schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}, "cozy-keycloak", "keycloak-db")
}

// namespaces counts the namespaces components are installed in.
func namespaces(cs []api.ReleaseComponent) int {
	set := map[string]bool{}
	for _, c := range cs {
		set[c.Namespace] = true
	}
	return len(set)
}

// The chart shapes of real platforms (undeclared vendored subcharts, no
// templates/, operator images in values and custom resources, .Files.Get
// image files, CRDs in crds/ and in templates used by another component)
// reconcile as built.
func TestShapesBundle(t *testing.T) {
	root := fixture.Copy(t, "../..", fixture.ProjectSources...)
	fixture.Shapes(t, root)
	externalCRDs(t, "postgresql.cnpg.io/v1/Cluster", "kubevirt.io/v1/VirtualMachine")
	built := release(t, root, fixture.ShapesBundle, "shapes")
	start := time.Now()
	n := len(built.Release.Components)
	hrs := waitReady(t, fixture.ShapesBundle, n, 4*time.Minute, nil)
	t.Logf("shapes: %d HelmReleases Ready %s after bootstrap", n, time.Since(start).Round(time.Millisecond))
	checkOrder(t, hrs)
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{
		{schema.GroupVersionResource{Group: "shapes.example", Version: "v1", Resource: "servers"}, "server"},
		{schema.GroupVersionResource{Group: "shapes.example", Version: "v1", Resource: "stores"}, "store"},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "shape-wrapper-agent"},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "shape-no-templates-cache"},
	} {
		get(t, o.gvr, "shapes", o.name)
	}
}

// An air-gapped site: the release is mirrored from registry A to registry B
// and to an archive, A goes away, and the cluster bootstraps from B with
// every image relocated there; then from an empty registry C loaded from
// the archive. The bundle digest is the same everywhere. (Runs last: it
// stops registry A.)
func TestAirGap(t *testing.T) {
	ctx := context.Background()
	images := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer images.Close()
	imgHost := strings.TrimPrefix(images.URL, "http://")
	shipper, err := random.Image(128<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	platform, err := random.Image(32<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	for ref, img := range map[string]v1.Image{imgHost + "/library/fluent-bit:3.2.4": shipper, imgHost + "/fluxcd/source-controller:v1.7.3": platform} {
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	root := fixture.Offline(t, "../..", imgHost+"/fluxcd/source-controller:v1.7.3")
	fixture.Edit(t, filepath.Join(root, "bundles", "demo.cue"), "\t\t\twait: false\n",
		fmt.Sprintf("\t\t\twait: false\n\t\t\tvalues: image: {repository: %q, tag: \"3.2.4\"}\n", imgHost+"/library/fluent-bit"))
	out := filepath.Join(t.TempDir(), "demo")
	built, err := (&action.Build{Project: action.Project{Dir: root, Bundle: "demo"}, Out: out}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := "oci://" + cluster.registry + "/origin"
	if _, err := (&action.Push{From: out, To: a, PlainHTTP: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}

	serve := func() (string, func()) {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		return strings.TrimPrefix(srv.URL, "http://"), srv.Close
	}
	b, closeB := serve()
	defer closeB()
	archive := filepath.Join(t.TempDir(), "demo.tar")
	for _, to := range []string{"oci://" + b + "/site", archive} {
		start := time.Now()
		res, err := (&action.Mirror{From: a + "/bundles/demo:0.1.0", To: to, PlainHTTP: true}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("mirror to %s: %d artifacts, %d bytes, %s", to, len(res.Artifacts), res.Bytes, time.Since(start).Round(time.Millisecond))
	}
	// The origin and the images' registry go away.
	if err := cluster.stopOne("registry"); err != nil {
		t.Fatal(err)
	}
	images.Close()

	site := func(t *testing.T, host, prefix string) {
		boot, err := (&action.Bootstrap{From: "oci://" + host + "/" + prefix + "/bundles/demo:0.1.0", PlainHTTP: true, RelocateImages: true, Interval: time.Minute}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cluster.apply(ctx, boot); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		want := host + "/" + prefix + "/images/" + strings.ReplaceAll(imgHost, ":", "-") + "/library/fluent-bit:3.2.4"
		deadline := time.Now().Add(90 * time.Second)
		for {
			image := ""
			if ds, err := cluster.client.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}).Namespace("dg-monitoring").Get(ctx, "log-shipper", metav1.GetOptions{}); err == nil {
				containers, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "containers")
				if len(containers) > 0 {
					image, _ = containers[0].(map[string]any)["image"].(string)
				}
			}
			if image == want {
				break
			}
			if time.Now().After(deadline) {
				hr := get(t, hrGVR, "dg-monitoring", "log-shipper")
				pr, _, _ := unstructured.NestedSlice(hr.Object, "spec", "postRenderers")
				ks := get(t, schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}, "flux-system", "distgen-demo")
				patches, _, _ := unstructured.NestedSlice(ks.Object, "spec", "patches")
				conds, _, _ := unstructured.NestedSlice(ks.Object, "status", "conditions")
				t.Logf("helmrelease postRenderers %v\nkustomization patches %v\nconditions %v", pr, patches, conds)
				t.Fatalf("log-shipper pulls %q, want %q", image, want)
			}
			time.Sleep(500 * time.Millisecond)
		}
		waitReady(t, "demo", len(built.Release.Components), 3*time.Minute, nil)
		src := get(t, ociGVR, "flux-system", "distgen-demo")
		rev, _, _ := unstructured.NestedString(src.Object, "status", "artifact", "revision")
		url, _, _ := unstructured.NestedString(src.Object, "spec", "url")
		if !strings.HasSuffix(rev, built.Release.Artifact.Digest) || !strings.HasPrefix(url, "oci://"+host+"/") {
			t.Errorf("cluster applied %s from %s, built %s", rev, url, built.Release.Artifact.Digest)
		}
		for _, c := range built.Release.Components {
			repo := get(t, ociGVR, c.Namespace, c.Name)
			rev, _, _ := unstructured.NestedString(repo.Object, "status", "artifact", "revision")
			u, _, _ := unstructured.NestedString(repo.Object, "spec", "url")
			if !strings.HasSuffix(rev, c.Chart.Digest) || !strings.HasPrefix(u, "oci://"+host+"/"+prefix+"/charts/") {
				t.Errorf("%s: chart %s from %s", c.Name, rev, u)
			}
		}
		t.Logf("site %s: all %d releases Ready on mirrored content %s after bootstrap", host, len(built.Release.Components), time.Since(start).Round(time.Millisecond))
	}
	t.Run("from the mirror", func(t *testing.T) { site(t, b, "site") })

	// The archive, loaded into an empty registry C with A and B gone, holds
	// every artifact at its built digest, and a bootstrap for C pins the
	// same bundle digest with every image relocated to C. (It is not applied
	// here: helm-controller v1.4.3 does not act on a change of an existing
	// post-renderer, so re-pointing an already relocated cluster to a second
	// mirror needs the releases reinstalled; see the issue note.)
	c, closeC := serve()
	defer closeC()
	closeB()
	loaded, err := (&action.Mirror{From: archive, To: "oci://" + c + "/airgap", PlainHTTP: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := loaded.Artifacts[len(loaded.Artifacts)-1].Digest; got != built.Release.Artifact.Digest {
		t.Errorf("bundle loaded from the archive as %s, built as %s", got, built.Release.Artifact.Digest)
	}
	for _, c2 := range built.Release.Components {
		r, _ := name.ParseReference(c + "/airgap/" + c2.Chart.Repository + ":" + c2.Chart.Tag)
		desc, err := remote.Head(r)
		if err != nil || desc.Digest.String() != c2.Chart.Digest {
			t.Errorf("%s in C: %v (%v)", r, desc, err)
		}
	}
	boot, err := (&action.Bootstrap{From: "oci://" + c + "/airgap/bundles/demo:0.1.0", PlainHTTP: true, RelocateImages: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(boot), built.Release.Artifact.Digest) || !strings.Contains(string(boot), c+"/airgap/images/") {
		t.Errorf("bootstrap for C:\n%s", boot)
	}
}
