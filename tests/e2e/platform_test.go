//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/distgen/distgen/generator/api"
	"github.com/distgen/distgen/tests/fixture"
)

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
