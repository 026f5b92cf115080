package main

import (
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// One rule for registries, every command: HTTPS unless --plain-http, and
// --plain-http for loopback registries only. Against a loopback registry
// that speaks plain HTTP, each command that reaches a registry fails
// without the flag (go-containerregistry alone would fall back to HTTP)
// and works with it; bootstrap writes into the Flux objects what it
// resolved with. --plain-http to any other host is refused up front.
func TestPlainHTTPRule(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	out := filepath.Join(t.TempDir(), "dist")
	mustRun(t, "build", "-C", "testdata/base", "--out", out)
	ref := "oci://" + host + "/p/bundles/test:1.2.3"
	t.Setenv("COSIGN_PASSWORD", "plain-http")
	keys := filepath.Join(t.TempDir(), "k")
	mustRun(t, "keygen", "--output-key-prefix", keys)
	layout := "oci-layout:" + filepath.Join(t.TempDir(), "layout")

	// Without the flag: nothing reaches the registry over HTTP.
	for _, args := range [][]string{
		{"push", "--from", out, "--to", "oci://" + host + "/p"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code == exitOK || !strings.Contains(errOut, "--plain-http") {
			t.Errorf("distgen %v without --plain-http: exit %d: %s", args, code, errOut)
		}
	}
	mustRun(t, "push", "--from", out, "--to", "oci://"+host+"/p", "--plain-http")
	for _, args := range [][]string{
		{"push", "--from", out, "--to", "oci://" + host + "/p", "--dry-run"},
		{"bootstrap", "--from", ref},
		{"inspect", ref},
		{"mirror", "--from", ref, "--to", layout, "--skip-images"},
		{"promote", "--from", ref, "--to", "oci://" + host + "/q", "--tag", "1.2.3"},
		{"diff", ref, out},
		{"report", ref},
		{"build", "-C", "testdata/base", "--out", filepath.Join(t.TempDir(), "d"), "--since", ref},
		{"sign", "--key", keys + ".key", ref},
		{"verify", "--key", keys + ".pub", "--from", ref},
	} {
		code, _, errOut := runCLI(t, args...)
		if code == exitOK || !strings.Contains(errOut, "--plain-http") {
			t.Errorf("distgen %v without --plain-http: exit %d: %s", args, code, errOut)
		}
		if code, _, errOut := runCLI(t, append(args, "--plain-http")...); code != exitOK {
			t.Errorf("distgen %v --plain-http: exit %d: %s", args, code, errOut)
		}
	}
	if boot := mustRun(t, "bootstrap", "--from", ref, "--plain-http"); !strings.Contains(boot, "insecure: true") {
		t.Errorf("bootstrap resolved over plain HTTP but writes no insecure: true:\n%s", boot)
	}

	// --plain-http is for loopback registries only.
	for _, args := range [][]string{
		{"push", "--from", out, "--to", "oci://registry.example.com/p", "--plain-http"},
		{"bootstrap", "--from", "oci://registry.example.com/p/bundles/test:1.2.3", "--plain-http"},
		{"inspect", "oci://10.1.2.3/p/bundles/test:1.2.3", "--plain-http"},
		{"mirror", "--from", ref, "--to", "oci://192.168.1.5/p", "--plain-http", "--skip-images"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != exitUser || !strings.Contains(errOut, "loopback") {
			t.Errorf("distgen %v: exit %d, want %d naming loopback: %s", args, code, exitUser, errOut)
		}
	}
}
