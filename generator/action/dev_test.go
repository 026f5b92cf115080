package action

import (
	"context"
	"errors"
	"strings"
	"testing"
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
		{Name: "ok", ImagesFrom: "oci-layout:x"},
	} {
		_, err := u.Run(context.Background())
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: err = %v, want a usage error", u, err)
		}
	}
}
