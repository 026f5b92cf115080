package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/upstream"
)

// upstreamCRDs are the kinds (group/version/Kind) of the CRDs real upstream
// charts ship that the platform's first-party charts instantiate: their
// fixtures ship them too, so the release's objects are checked against
// them as they would be against the real charts'.
var upstreamCRDs = map[string][]string{
	"cloudnative-pg":       {"postgresql.cnpg.io/v1/Cluster"},
	"piraeus":              {"piraeus.io/v1/LinstorCluster", "piraeus.io/v1/LinstorSatelliteConfiguration"},
	"cluster-api-operator": {"operator.cluster.x-k8s.io/v1alpha2/CoreProvider", "operator.cluster.x-k8s.io/v1alpha2/BootstrapProvider", "operator.cluster.x-k8s.io/v1alpha2/ControlPlaneProvider", "operator.cluster.x-k8s.io/v1alpha2/InfrastructureProvider"},
	"keycloak-operator":    {"v1.edp.epam.com/v1alpha1/ClusterKeycloak", "v1.edp.epam.com/v1alpha1/ClusterKeycloakRealm"},
}

// fixtureCRD is a CRD of group/version/Kind that takes any spec.
func fixtureCRD(gvk string) *common.File {
	parts := strings.Split(gvk, "/")
	group, version, kind := parts[0], parts[1], parts[2]
	plural := strings.ToLower(kind) + "s"
	return &common.File{Name: "crds/" + plural + ".yaml", Data: []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + plural + "." + group + `
spec:
  group: ` + group + `
  names: {kind: ` + kind + `, plural: ` + plural + `}
  scope: Namespaced
  versions:
  - name: ` + version + `
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`)}
}

// vendorFixtures places, for every upstream chart the project's bundles
// wrap, a small chart of that name and version where vendored charts go.
// Each renders a ConfigMap holding the values it received, so a test can
// see that the wrapper passed the platform values down, and ships the CRDs
// of upstreamCRDs.
func vendorFixtures(t *testing.T, root string) int {
	t.Helper()
	proj, err := load.Project(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, upstream.VendorDir)
	lock, err := upstream.ReadLock(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range proj.Bundles {
		for _, c := range b.Components {
			for _, u := range c.Chart.Upstream {
				if _, err := os.Stat(filepath.Join(dir, u.ArchiveName())); err == nil {
					continue
				}
				ch := &chartv2.Chart{
					Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: u.Name, Version: u.Version, Type: "application"},
					Templates: []*common.File{{Name: "templates/values.yaml", Data: []byte(
						"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  values: {{ toJson .Values | quote }}\n")}},
					Raw: []*common.File{{Name: "values.yaml", Data: []byte("fixture: true\n")}},
				}
				ch.Values = map[string]any{"fixture": true}
				for _, gvk := range upstreamCRDs[u.Name] {
					ch.Files = append(ch.Files, fixtureCRD(gvk))
				}
				path, err := chartutil.Save(ch, dir)
				if err != nil {
					t.Fatal(err)
				}
				// Recorded in the lock, as distgen vendor does: a build
				// refuses a vendored archive that nothing pins.
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(b)
				lock.Set(u, "sha256:"+hex.EncodeToString(sum[:]), "")
				n++
			}
		}
	}
	if err := lock.Write(root); err != nil {
		t.Fatal(err)
	}
	return n
}

// The full platform catalog builds once its upstream charts are vendored:
// 79 enabled components over 9 dependency levels, wrapper charts carrying
// the upstream charts and the platform values under their names.
func TestPlatformBuildsWithVendoredCharts(t *testing.T) {
	root := copyProject(t, repoRoot)
	if n := vendorFixtures(t, root); n < 30 {
		t.Fatalf("vendored %d fixture charts, want the catalog's 30+", n)
	}
	out, res := build(t, root, "platform")
	if got := len(res.Release.Components); got != 79 {
		t.Errorf("%d components built, want 79 (87 less 8 optional)", got)
	}
	levels := map[string]int{}
	depth := 0
	for _, c := range res.Release.Components {
		l := 0
		for _, d := range c.DependsOn {
			if _, ok := levels[d]; !ok {
				t.Fatalf("%s is listed before its dependency %s", c.Name, d)
			}
			l = max(l, levels[d]+1)
		}
		levels[c.Name] = l
		depth = max(depth, l+1)
	}
	if depth != 9 {
		t.Errorf("dependency depth %d, want 9", depth)
	}

	// cilium's values reach the vendored cilium chart through its wrapper.
	tmpl := &action.Template{Project: action.Project{Dir: root, Bundle: "platform"}, Component: "cilium"}
	manifests, err := tmpl.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"charts/cilium/templates/values.yaml", `\"kubeProxyReplacement\":true`, `\"chainingMode\":\"generic-veth\"`} {
		if !strings.Contains(manifests, want) {
			t.Errorf("cilium manifests lack %s:\n%s", want, manifests)
		}
	}

	// The real helm CLIs render a wrapper chart with its vendored dependency.
	for env, bin := range helmCLIs() {
		for _, c := range res.Release.Components {
			if c.Name != "monitoring-agents" && c.Name != "cilium" {
				continue
			}
			b, err := helm(bin, t.TempDir(), "template", c.ReleaseName, filepath.Join(out, c.Chart.File), "--namespace", c.Namespace)
			if err != nil {
				t.Errorf("%s template %s: %v\n%s", env, c.Chart.File, err, b)
			}
			if c.Name == "monitoring-agents" && strings.Count(string(b), "kind: ConfigMap") != 3 {
				t.Errorf("%s: monitoring-agents should render its 3 upstream charts:\n%s", env, b)
			}
		}
	}
}
