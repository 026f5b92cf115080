package action

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/distgen/distgen/generator/mirror"
)

func TestFluxImages(t *testing.T) {
	platform := []string{
		"ghcr.io/siderolabs/installer-base:v1.11.5",
		"ghcr.io/fluxcd/source-controller:v1.7.3",
		"ghcr.io/fluxcd/helm-controller:v1.4.3",
		"ghcr.io/fluxcd/kustomize-controller:v1.7.2",
	}
	got, err := fluxImages(platform, false)
	if err != nil {
		t.Fatal(err)
	}
	if got["helm-controller"] != "ghcr.io/fluxcd/helm-controller:v1.4.3" || len(got) != 3 {
		t.Errorf("as pinned: %v", got)
	}
	got, err = fluxImages(platform, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := DevRegistry + "/images/ghcr.io/fluxcd/source-controller:v1.7.3"; got["source-controller"] != want {
		t.Errorf("relocated: %s, want %s", got["source-controller"], want)
	}
	_, err = fluxImages(platform[:3], false)
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
		host, path, err := mirroredHost(ref)
		if err != nil {
			t.Fatal(err)
		}
		to, _ := mirror.RelocatedRef(DevRegistry, ref)
		if host != want || !strings.HasPrefix(to, DevRegistry+"/"+path+"/") {
			t.Errorf("%s: host %q path %q (relocated to %s), want host %q", ref, host, path, to, want)
		}
	}
	if got := registryHosts("docker.io", "images/docker.io"); !strings.Contains(got, `server = "https://registry-1.docker.io"`) ||
		!strings.Contains(got, `[host."http://`+DevRegistry+`/v2/images/docker.io"]`) || !strings.Contains(got, "override_path = true") {
		t.Errorf("docker.io's hosts.toml:\n%s", got)
	}
	if got := registryHosts(DevRegistry, ""); !strings.Contains(got, `server = "http://`+DevRegistry+`"`) || strings.Contains(got, "override_path") {
		t.Errorf("the node registry's hosts.toml:\n%s", got)
	}
}
