package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/generator/artifact"
	"github.com/distgen/distgen/generator/upstream"
	"github.com/distgen/distgen/tests/fixture"
)

// distgen outdated asks a TLS Helm repository's index.yaml and a
// registry's tag list for the versions they offer, reports the newest by
// SemVer (pre-releases only when asked, tags that are not versions passed
// over), and reports a repository it cannot reach for its chart alone.
func TestOutdated(t *testing.T) {
	root := fixture.Copy(t, "../cmd/distgen/testdata/base")
	// One chart in several versions, listed under one key as Helm writes
	// an index.
	index := "apiVersion: v1\nentries:\n  podinfo:\n"
	for _, v := range []string{"6.5.0", "6.6.0", "7.0.0-rc.1", "6.5.1"} {
		index += fmt.Sprintf("  - name: podinfo\n    version: %s\n    urls: [charts/podinfo-%s.tgz]\n", v, v)
	}
	repoSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/repo/index.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(index))
	}))
	t.Cleanup(repoSrv.Close)
	host := newRegistry(t, nil)
	for _, tag := range []string{"v1.2.3", "v1.3.0", "latest", "v1.10.0-beta.1"} {
		version := tag
		if tag == "latest" { // a tag that is not a version
			version = "1.0.0"
		}
		img, err := artifact.Chart(upstreamChart(t, "redis", version), time.Unix(0, 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(host + "/charts/redis:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(file, old, new string) { fixture.Edit(t, filepath.Join(root, file), old, new) }
	edit("versions.cue", `opt: chart: "0.1.0"`, `opt: chart: "0.1.0"`+"\n\t\tstack: {chart: \"1.0.0\", upstream: {podinfo: \"6.5.0\", redis: \"v1.2.3\"}}\n\t\tgone: {chart: \"1.0.0\", upstream: {vanished: \"1.0.0\"}}")
	edit("bundles/test.cue", "\topt: {", fmt.Sprintf("\tstack: {\n\t\tnamespace: \"ns-s\"\n\t\tchart: upstream: [{repository: %q, name: \"podinfo\"}, {repository: %q, name: \"redis\"}]\n\t}\n\tgone: {\n\t\tnamespace: \"ns-g\"\n\t\tchart: upstream: [{repository: %q, name: \"vanished\"}]\n\t}\n\topt: {",
		repoSrv.URL+"/repo", "oci://"+host+"/charts", "https://127.0.0.1:1/repo"))

	run := func(pre bool) map[string]action.OutdatedChart {
		t.Helper()
		res, err := (&action.Outdated{Dir: root, Pre: pre, Fetcher: &upstream.Fetcher{HTTP: repoSrv.Client(), PlainHTTP: true}}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]action.OutdatedChart{}
		for _, c := range res {
			out[c.Name] = c
		}
		return out
	}
	got := run(false)
	if c := got["podinfo"]; c.Latest != "6.6.0" || !c.Outdated || c.Pinned != "6.5.0" || strings.Join(c.Components, ",") != "stack" {
		t.Errorf("podinfo: %+v, want 6.6.0 and outdated", c)
	}
	if c := got["redis"]; c.Latest != "v1.3.0" || !c.Outdated {
		t.Errorf("redis: %+v, want v1.3.0 and outdated (latest and the beta passed over)", c)
	}
	if c := got["vanished"]; c.Error == "" || c.Latest != "" || c.Outdated || strings.Join(c.Components, ",") != "gone" {
		t.Errorf("an unreachable repository: %+v, want its error, for component gone", c)
	}
	pre := run(true)
	if c := pre["podinfo"]; c.Latest != "7.0.0-rc.1" || !c.Outdated {
		t.Errorf("podinfo with --pre: %+v", c)
	}
	if c := pre["redis"]; c.Latest != "v1.10.0-beta.1" {
		t.Errorf("redis with --pre: %+v", c)
	}
	if err := (&action.OutdatedError{Charts: []action.OutdatedChart{got["podinfo"]}}); !action.IsUserError(err) || !strings.Contains(err.Error(), "podinfo 6.5.0 -> 6.6.0") {
		t.Errorf("--exit-code's error %v is not the user's (exit 1)", err)
	}
}
