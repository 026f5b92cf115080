//go:build e2e

package e2e

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/distgen/distgen/bench/catalog"
	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/render/flux"
	"github.com/distgen/distgen/generator/sign"
)

// sourceState is an OCIRepository's Ready and SourceVerified conditions,
// the Ready reason and message, and the revision it has.
func sourceState(t *testing.T, namespace, name string) (ready, verified, reason, message, revision string) {
	t.Helper()
	obj := get(t, ociGVR, namespace, name)
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		switch m["type"] {
		case "Ready":
			ready, _ = m["status"].(string)
			reason, _ = m["reason"].(string)
			message, _ = m["message"].(string)
		case "SourceVerified":
			verified, _ = m["status"].(string)
		}
	}
	revision, _, _ = unstructured.NestedString(obj.Object, "status", "artifact", "revision")
	return
}

// The real source-controller verifies a signed release: every chart source
// and the bundle's are SourceVerified and the releases become Ready. An
// unsigned artifact, one signed by another key and one changed after
// signing are each refused (Ready False, VerificationError) and nothing of
// them is installed. Mirrored to a second registry, the release verifies
// there with the origin stopped.
func TestSignedRelease(t *testing.T) {
	ctx := context.Background()
	newRegistry := func() (string, *httptest.Server) {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		return strings.TrimPrefix(srv.URL, "http://"), srv
	}
	origin, originSrv := newRegistry()
	defer originSrv.Close()
	// The image the charts run, in the origin's registry, so the mirror
	// can copy it.
	app, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	appRef, _ := name.ParseReference(origin + "/library/app:1.0.0")
	if err := remote.Write(appRef, app); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := catalog.WriteOptions(dir, catalog.Options{N: 9, Seed: 11, NoWait: true, Small: true, Image: appRef.String()}); err != nil {
		t.Fatal(err)
	}
	// A bundle and namespaces of its own, beside the fixture bundle.
	path := filepath.Join(dir, "bundles", "bench.cue")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "bundles: bench:", "bundles: signed:", 1)
	src = strings.ReplaceAll(src, `namespace: "ns-`, `namespace: "sg-`)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	for _, k := range []string{"a", "b"} {
		if _, _, err := (&action.Keygen{Prefix: filepath.Join(keys, k), Password: []byte("pw")}).Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	keyA, err := action.LoadPrivateKey(filepath.Join(keys, "a.key"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := action.LoadPrivateKey(filepath.Join(keys, "b.key"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	pubA, err := os.ReadFile(filepath.Join(keys, "a.pub"))
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "signed")
	built, err := (&action.Build{Project: action.Project{Dir: dir, Bundle: "signed"}, Out: out}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	to := "oci://" + origin + "/rel"
	if _, err := (&action.Push{From: out, To: to, PlainHTTP: true, SignKey: keyA}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	bootstrap := func(t *testing.T, from string) {
		t.Helper()
		boot, err := (&action.Bootstrap{From: from, PlainHTTP: true, Interval: time.Minute, VerifyKey: pubA}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cluster.apply(ctx, boot); err != nil {
			t.Fatal(err)
		}
	}
	checkVerified := func(t *testing.T, host string) {
		t.Helper()
		for _, c := range built.Release.Components {
			ready, verified, reason, msg, rev := sourceState(t, c.Namespace, c.Name)
			if ready != "True" || verified != "True" || !strings.HasSuffix(rev, c.Chart.Digest) {
				t.Errorf("chart source %s/%s: Ready %s (%s: %s), SourceVerified %s, revision %s", c.Namespace, c.Name, ready, reason, msg, verified, rev)
			}
			obj := get(t, ociGVR, c.Namespace, c.Name)
			if url, _, _ := unstructured.NestedString(obj.Object, "spec", "url"); !strings.Contains(url, host) {
				t.Errorf("chart source %s from %s, want %s", c.Name, url, host)
			}
		}
		if ready, verified, _, _, _ := sourceState(t, "flux-system", "distgen-signed"); ready != "True" || verified != "True" {
			t.Errorf("bundle source: Ready %s, SourceVerified %s", ready, verified)
		}
	}

	t.Run("signed release verifies", func(t *testing.T) {
		start := time.Now()
		bootstrap(t, to+"/bundles/signed:"+built.Release.Version)
		waitReady(t, "signed", len(built.Release.Components), 3*time.Minute, nil)
		checkVerified(t, origin)
		t.Logf("signed release: %d releases Ready and every source verified %s after bootstrap", len(built.Release.Components), time.Since(start).Round(time.Millisecond))
	})

	t.Run("unsigned, other key, changed after signing are refused", func(t *testing.T) {
		c := built.Release.Components[0]
		r, _ := name.ParseReference(origin + "/rel/" + c.Chart.Repository + "@" + c.Chart.Digest)
		img, err := remote.Image(r)
		if err != nil {
			t.Fatal(err)
		}
		variant := func(note string) v1.Image {
			return mutate.Annotations(img, map[string]string{"io.distgen.test": note}).(v1.Image)
		}
		write := func(repo, tag string, im v1.Image) v1.Hash {
			ref, _ := name.ParseReference(origin + "/bad/" + repo + ":" + tag)
			if err := remote.Write(ref, im); err != nil {
				t.Fatal(err)
			}
			d, _ := im.Digest()
			return d
		}
		signWith := func(key *ecdsa.PrivateKey, repo string, d v1.Hash) {
			body, sig, err := sign.Sign(key, origin+"/bad/"+repo, d)
			if err != nil {
				t.Fatal(err)
			}
			sigs, err := sign.Append(nil, body, sig)
			if err != nil {
				t.Fatal(err)
			}
			write(repo, sign.Tag(d), sigs)
		}
		// Never signed; signed by key B; signed by key A, then its tag moved
		// to other content.
		write("unsigned", "1.0.0", variant("unsigned"))
		signWith(keyB, "other-key", write("other-key", "1.0.0", variant("other-key")))
		signWith(keyA, "changed", write("changed", "1.0.0", variant("signed")))
		write("changed", "1.0.0", variant("changed after signing"))

		var docs []string
		docs = append(docs, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sg-bad\n",
			fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: sg-bad\nstringData:\n  cosign.pub: |\n%s", flux.VerifySecret, indent(string(pubA), "    ")))
		for _, bad := range []string{"unsigned", "other-key", "changed"} {
			docs = append(docs, fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: %[1]s
  namespace: sg-bad
spec:
  url: oci://%[2]s/bad/%[1]s
  ref:
    tag: 1.0.0
  insecure: true
  interval: 1m
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
  verify:
    provider: cosign
    secretRef:
      name: %[3]s
`, bad, origin, flux.VerifySecret), fmt.Sprintf(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: %[1]s
  namespace: sg-bad
spec:
  interval: 1m
  releaseName: bad-%[1]s
  chartRef:
    kind: OCIRepository
    name: %[1]s
  install:
    disableWait: true
`, bad))
		}
		if err := cluster.apply(ctx, []byte(strings.Join(docs, "---\n"))); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"unsigned", "other-key", "changed"} {
			deadline := time.Now().Add(time.Minute)
			for {
				ready, verified, reason, msg, rev := sourceState(t, "sg-bad", bad)
				if ready == "False" && reason == sourcev1.VerificationError {
					if verified == "True" || rev != "" {
						t.Errorf("%s: SourceVerified %s, revision %q: want no artifact", bad, verified, rev)
					}
					t.Logf("%s refused: %s", bad, msg)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: Ready %s (%s: %s), want False with %s", bad, ready, reason, msg, sourcev1.VerificationError)
				}
				time.Sleep(300 * time.Millisecond)
			}
			hr := get(t, hrGVR, "sg-bad", bad)
			if condition(hr, "Ready") == "True" {
				t.Errorf("%s: the HelmRelease is Ready", bad)
			}
			if _, err := cluster.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("sg-bad").Get(ctx, "bad-"+bad, metav1.GetOptions{}); err == nil {
				t.Errorf("%s: its chart was installed", bad)
			}
		}
	})

	t.Run("mirrored release verifies with the origin stopped", func(t *testing.T) {
		site, siteSrv := newRegistry()
		defer siteSrv.Close()
		res, err := (&action.Mirror{From: to + "/bundles/signed:" + built.Release.Version, To: "oci://" + site + "/site", PlainHTTP: true}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Signatures) != len(built.Release.Components)+1 {
			t.Errorf("mirrored %d signatures, want one per artifact (%d)", len(res.Signatures), len(built.Release.Components)+1)
		}
		originSrv.Close()
		start := time.Now()
		bootstrap(t, "oci://"+site+"/site/bundles/signed:"+built.Release.Version)
		deadline := time.Now().Add(2 * time.Minute)
		for _, c := range built.Release.Components {
			for {
				obj := get(t, ociGVR, c.Namespace, c.Name)
				url, _, _ := unstructured.NestedString(obj.Object, "spec", "url")
				ready, verified, _, _, _ := sourceState(t, c.Namespace, c.Name)
				if strings.Contains(url, site) && ready == "True" && verified == "True" {
					break
				}
				if time.Now().After(deadline) {
					break // checkVerified names what is wrong
				}
				time.Sleep(300 * time.Millisecond)
			}
		}
		waitReady(t, "signed", len(built.Release.Components), 2*time.Minute, nil)
		checkVerified(t, site)
		t.Logf("mirror: every source verified from %s %s after bootstrap, origin stopped", site, time.Since(start).Round(time.Millisecond))
	})
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
