package tests

import (
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/distgen/distgen/generator/action"
	"github.com/distgen/distgen/tests/fixture"
)

// browserCheck runs in the page, once loaded: it measures the drawn graph,
// then follows every link to a component (the graph's and the tables') and
// records whether it lands on that component's row, and writes what it
// found as JSON into <pre id="browser-check">.
const browserCheck = `<script>
(function () {
  const out = {graph: null, links: []};
  const svg = document.querySelector('#graph svg');
  if (svg) {
    const r = svg.getBoundingClientRect();
    out.graph = {width: r.width, height: r.height, nodes: svg.querySelectorAll('g.node').length,
      visible: getComputedStyle(svg).visibility === 'visible' && getComputedStyle(svg).display !== 'none'};
  }
  for (const a of document.querySelectorAll('a')) {
    const href = a.getAttribute('href') || a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
    if (!href.startsWith('#component-')) continue;
    window.scrollTo(0, document.body.scrollHeight);
    a.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, view: window}));
    const target = document.getElementById(href.slice(1));
    const top = target ? target.getBoundingClientRect().top : null;
    out.links.push({href: href, inSVG: a.namespaceURI === 'http://www.w3.org/2000/svg', hash: location.hash,
      found: !!target, target: !!target && target.matches(':target'), inView: top !== null && top >= -1 && top < innerHeight});
  }
  const pre = document.createElement('pre');
  pre.id = 'browser-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`

// The HTML report renders in a real browser (headless Chromium): the
// dependency graph is drawn and visible with a node per component, and
// every link to a component, in the graph, the changes and the
// dependencies, lands on that component's row.
func TestReportInBrowser(t *testing.T) {
	browser := os.Getenv("DISTGEN_CHROMIUM")
	if browser == "" {
		t.Skip("DISTGEN_CHROMIUM is not set (make test sets it where Chromium is installed; .ci/run installs it)")
	}
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("Graphviz's dot is not installed")
	}
	root := copyProject(t, repoRoot)
	old, _ := build(t, root, "demo")
	fixture.Edit(t, filepath.Join(root, "versions.cue"), `"ingress-defaults": chart:      "0.1.0"`, `"ingress-defaults": chart:      "0.1.1"`)
	fixture.Edit(t, filepath.Join(root, "packages", "system", "ingress-defaults", "templates", "ingressclass.yaml"),
		"  proxy-body-size: {{ .Values.proxyBodySize | quote }}", "  proxy-body-size: {{ .Values.proxyBodySize | quote }}\n  keepalive: \"75\"")
	cur, res := build(t, root, "demo")
	page, err := (&action.Report{Release: cur, Since: old, Format: action.ReportHTML}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"http://", "https://", "src="} {
		if strings.Contains(strings.ReplaceAll(page, "http://www.w3.org/", ""), ref) {
			t.Errorf("the page refers outside itself (%q)", ref)
		}
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(strings.Replace(page, "</body>", browserCheck+"\n</body>", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1024,400",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+file)
	dom, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v\n%s", browser, err, stderr)
	}
	m := regexp.MustCompile(`(?s)<pre id="browser-check">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's check did not run; the browser gave:\n%s", dom)
	}
	var got struct {
		Graph *struct {
			Width, Height float64
			Nodes         int
			Visible       bool
		}
		Links []struct {
			Href, Hash                   string
			InSVG, Found, Target, InView bool
		}
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &got); err != nil {
		t.Fatalf("%v: %s", err, m[1])
	}
	n := len(res.Release.Components)
	if got.Graph == nil || got.Graph.Width < 100 || got.Graph.Height < 50 || !got.Graph.Visible || got.Graph.Nodes != n {
		t.Errorf("graph as drawn: %+v, want visible with %d nodes", got.Graph, n)
	}
	inSVG, changed := 0, false
	for _, l := range got.Links {
		if !l.Found || !l.Target || !l.InView || l.Hash != l.Href {
			t.Errorf("link %s: %+v", l.Href, l)
		}
		if l.InSVG {
			inSVG++
		}
		if l.Href == "#component-ingress-defaults" && !l.InSVG {
			changed = true
		}
	}
	if inSVG != n || !changed {
		t.Errorf("%d links in the graph (want %d), a link from the changes: %v", inSVG, n, changed)
	}
	t.Logf("%d links followed in %s", len(got.Links), browser)
}

// A report reads the same from the build and from where it was pushed:
// the components in install order, their digests, versions and images,
// and the release date.
func TestReportFromPushedRelease(t *testing.T) {
	out, layout, host := pushedTwice(t, repoRoot)
	want, err := (&action.Report{Release: out}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{"oci-layout:" + layout, "oci://" + host + "/distgen/bundles/demo:0.1.0"} {
		got, err := (&action.Report{Release: from, PlainHTTP: true}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("report of %s:\n%s\nwant (the build's):\n%s", from, got, want)
		}
	}
}
