package action

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/mirror"
)

func TestFluxImages(t *testing.T) {
	platform := []string{
		"ghcr.io/siderolabs/installer-base:v1.11.5",
		"ghcr.io/fluxcd/source-controller:v1.7.3",
		"ghcr.io/fluxcd/helm-controller:v1.4.3",
		"ghcr.io/fluxcd/kustomize-controller:v1.7.2",
	}
	got, err := fluxImages(platform, "")
	if err != nil {
		t.Fatal(err)
	}
	if got["helm-controller"] != "ghcr.io/fluxcd/helm-controller:v1.4.3" || len(got) != 3 {
		t.Errorf("as pinned: %v", got)
	}
	got, err = fluxImages(platform, DevRegistry)
	if err != nil {
		t.Fatal(err)
	}
	if want := DevRegistry + "/images/ghcr.io/fluxcd/source-controller:v1.7.3"; got["source-controller"] != want {
		t.Errorf("relocated: %s, want %s", got["source-controller"], want)
	}
	_, err = fluxImages(platform[:3], "")
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "kustomize-controller") {
		t.Errorf("without kustomize-controller: %v", err)
	}
}

// TestDevDownWithoutUp: dev down removes only what dev up recorded; with
// no record it refuses, as the user's mistake.
func TestDevDownWithoutUp(t *testing.T) {
	_, err := (&DevDown{Name: "never-made", StateDir: t.TempDir()}).Run(context.Background())
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "nothing to remove") {
		t.Fatalf("err = %v", err)
	}
}

func TestDevUpRefusesBadInput(t *testing.T) {
	for _, u := range []*DevUp{
		{Name: "Bad_Name"},
		{Name: ""},
		{Name: "-leading-dash"},
	} {
		_, err := u.Run(context.Background())
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: err = %v, want a usage error", u, err)
		}
	}
}

// TestMirroredHosts: containerd's hosts.toml for the node's registry and,
// for each registry an image comes from, the node's registry as its
// mirror at the path where distgen mirror put that registry's images.
func TestMirroredHosts(t *testing.T) {
	for ref, want := range map[string]string{
		"docker.io/fluent/fluent-bit:3.2.4":       "docker.io",
		"fluent/fluent-bit:3.2.4":                 "docker.io",
		"busybox:1.37":                            "docker.io",
		"ghcr.io/fluxcd/source-controller:v1.7.3": "ghcr.io",
		"registry.example.com:5443/team/app:1":    "registry.example.com:5443",
	} {
		// The node's registry, and a user's registry with a prefix.
		for _, reg := range []string{DevRegistry, "kind-registry:5000/site/one"} {
			host, path, err := mirroredHost(reg, ref)
			if err != nil {
				t.Fatal(err)
			}
			regHost, _, _ := strings.Cut(reg, "/")
			to, _ := mirror.RelocatedRef(reg, ref)
			if host != want || !strings.HasPrefix(to, regHost+"/"+path+"/") || !strings.HasPrefix(to, reg+"/images/") {
				t.Errorf("%s under %s: host %q path %q (relocated to %s), want host %q", ref, reg, host, path, to, want)
			}
		}
	}
	if got := registryHosts("docker.io", DevRegistry+"/v2/images/docker.io", true, ""); !strings.Contains(got, `server = "https://registry-1.docker.io"`) ||
		!strings.Contains(got, `[host."http://`+DevRegistry+`/v2/images/docker.io"]`) || !strings.Contains(got, "override_path = true") {
		t.Errorf("docker.io's hosts.toml:\n%s", got)
	}
	if got := registryHosts("ghcr.io", "registry.example.com/v2/site/images/ghcr.io", false, ""); !strings.Contains(got, `server = "https://ghcr.io"`) ||
		!strings.Contains(got, `[host."https://registry.example.com/v2/site/images/ghcr.io"]`) {
		t.Errorf("ghcr.io's hosts.toml, mirrored over TLS:\n%s", got)
	}
	if got := registryHosts("kind-registry:5000", "", false, "/etc/containerd/certs.d/kind-registry:5000/ca.crt"); !strings.Contains(got, `server = "https://kind-registry:5000"`) ||
		!strings.Contains(got, `[host."https://kind-registry:5000"]`) || !strings.Contains(got, `ca = "/etc/containerd/certs.d/kind-registry:5000/ca.crt"`) {
		t.Errorf("a user's registry's hosts.toml, with its CA:\n%s", got)
	}
	if got := registryHosts(DevRegistry, "", true, ""); !strings.Contains(got, `server = "http://`+DevRegistry+`"`) || strings.Contains(got, "override_path") {
		t.Errorf("the node registry's hosts.toml:\n%s", got)
	}
}

// TestDevRegistries: the node's own registry by default; a user's, as
// this machine and as the node reach it; bad names are usage errors.
func TestDevRegistries(t *testing.T) {
	for _, c := range []struct {
		u               DevUp
		target, cluster string
	}{
		{DevUp{}, "oci-layout:/tmp/r", DevRegistry},
		{DevUp{Registry: "localhost:5001"}, "oci://localhost:5001", "localhost:5001"},
		{DevUp{Registry: "localhost:5001/dev/", ClusterRegistry: "kind-registry:5000"}, "oci://localhost:5001/dev", "kind-registry:5000/dev"},
		{DevUp{Registry: "registry.example.com/team/dev"}, "oci://registry.example.com/team/dev", "registry.example.com/team/dev"},
	} {
		target, cluster, err := c.u.registries("/tmp/r")
		if err != nil || target != c.target || cluster != c.cluster {
			t.Errorf("%+v: %q %q %v, want %q %q", c.u, target, cluster, err, c.target, c.cluster)
		}
	}
	for _, u := range []DevUp{
		{ClusterRegistry: "kind-registry:5000"},
		{Registry: "Bad Host"},
		{Registry: "localhost:5001", ClusterRegistry: "kind-registry:5000/prefix"},
		{Registry: "localhost:5001", ClusterRegistry: "https://kind-registry"},
	} {
		_, _, err := u.registries("/tmp/r")
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: err = %v, want a usage error", u, err)
		}
	}
}

// TestRegistryHosting: the KEP-1755 ConfigMap names the user's registry's
// host as this machine and as the cluster reach it, without the prefix.
func TestRegistryHosting(t *testing.T) {
	out, err := registryHosting("localhost:5001/dev", "kind-registry:5000/dev")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Metadata struct{ Name, Namespace string }
		Data     map[string]string
	}
	if err := yaml.Unmarshal(out, &cm); err != nil {
		t.Fatal(err)
	}
	var v1 map[string]string
	if err := yaml.Unmarshal([]byte(cm.Data["localRegistryHosting.v1"]), &v1); err != nil {
		t.Fatal(err)
	}
	if cm.Metadata.Name != "local-registry-hosting" || cm.Metadata.Namespace != "kube-public" ||
		v1["host"] != "localhost:5001" || v1["hostFromContainerRuntime"] != "kind-registry:5000" || v1["hostFromClusterNetwork"] != "kind-registry:5000" {
		t.Errorf("ConfigMap:\n%s", out)
	}
}

// TestRegistryCA: --registry-ca is read as PEM certificates, only for a
// user's registry over TLS; anything else is a usage error.
func TestRegistryCA(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A real certificate: the one httptest's TLS servers present.
	srv := httptest.NewTLSServer(nil)
	srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	good := write("ca.crt", caPEM)
	if b, err := (&DevUp{Registry: "localhost:5001", RegistryCA: good}).registryCA(); err != nil || string(b) != caPEM {
		t.Errorf("a good CA: %v", err)
	}
	for _, u := range []DevUp{
		{RegistryCA: good},
		{Registry: "localhost:5001", PlainHTTP: true, RegistryCA: good},
		{Registry: "localhost:5001", RegistryCA: filepath.Join(dir, "missing.crt")},
		{Registry: "localhost:5001", RegistryCA: write("empty.crt", "not PEM\n")},
		{Registry: "localhost:5001", RegistryCA: write("key.crt", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")},
		{Registry: "localhost:5001", RegistryCA: write("bad.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
	} {
		_, err := u.registryCA()
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: err = %v, want a usage error", u, err)
		}
	}
}
