package chart

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint/rules"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kfield "k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/endpoints/deprecation"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/distgen/distgen/generator/internal/manifest"
)

// lintChart lints a chart the build has loaded and rendered, with the rules
// of helm lint and at the same severities. Helm's own rules read Chart.yaml
// and values.yaml (with values.schema.json) from the staged chart; the rules
// for templates, dependencies and CRDs, which in Helm load the chart three
// more times and render it a second time, run here on the loaded chart and
// on the build's one render (manifests, by "name/templates/file").
func lintChart(dir string, c *chartv2.Chart, overrides map[string]any, manifests map[string]string, kv *common.KubeVersion) support.Linter {
	l := support.Linter{ChartDir: dir}
	rules.Chartfile(&l)
	rules.ValuesWithOverrides(&l, overrides, false)
	lintTemplates(&l, c, manifests, kv)
	lintDependencies(&l, c)
	lintCRDs(&l, c)
	return l
}

// stageForLint writes what Helm's Chart.yaml and values rules read.
func stageForLint(c *chartv2.Chart, stage string) (string, error) {
	dir := filepath.Join(stage, c.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := chartutil.SaveChartfile(filepath.Join(dir, chartutil.ChartfileName), c.Metadata); err != nil {
		return "", err
	}
	for _, f := range c.Raw {
		if f.Name == chartutil.ValuesfileName {
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
				return "", err
			}
		}
	}
	if c.Schema != nil {
		if err := os.WriteFile(filepath.Join(dir, chartutil.SchemafileName), c.Schema, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// lintTemplates is Helm's templates rule on the chart's own templates.
func lintTemplates(l *support.Linter, c *chartv2.Chart, manifests map[string]string, kv *common.KubeVersion) {
	const dir = "templates/"
	has := slices.ContainsFunc(c.Templates, func(f *common.File) bool { return strings.HasPrefix(f.Name, dir) })
	if !l.RunLinterRule(support.WarningSev, dir, boolErr(has, "directory does not exist")) {
		return
	}
	for _, t := range c.Templates {
		name := t.Name
		l.RunLinterRule(support.ErrorSev, name, allowedExtension(name))
		if ext := strings.ToLower(filepath.Ext(name)); ext != ".yaml" && ext != ".yml" {
			continue
		}
		body := manifests[path.Join(c.Name(), name)]
		if strings.TrimSpace(body) == "" {
			continue
		}
		l.RunLinterRule(support.WarningSev, name, topIndent(body))
		docs, err := manifest.Docs(body)
		for _, doc := range docs {
			h, err := manifest.Parse(doc)
			if err != nil {
				l.RunLinterRule(support.ErrorSev, name, fmt.Errorf("unable to parse YAML: %w", err))
				return
			}
			if h == (manifest.Header{}) && manifest.Blank(doc) {
				continue // an empty document
			}
			l.RunLinterRule(support.WarningSev, name, metadataName(h))
			l.RunLinterRule(support.WarningSev, name, deprecated(h, kv))
			l.RunLinterRule(support.ErrorSev, name, matchSelector(h, body))
			l.RunLinterRule(support.ErrorSev, name, listAnnotations(h, doc))
		}
		if err != nil {
			l.RunLinterRule(support.ErrorSev, name, fmt.Errorf("unable to parse YAML: %w", err))
			return
		}
	}
}

func boolErr(ok bool, msg string) error {
	if ok {
		return nil
	}
	return errors.New(msg)
}

func allowedExtension(name string) error {
	if ext := filepath.Ext(name); !slices.Contains([]string{".yaml", ".yml", ".tpl", ".txt"}, ext) {
		return fmt.Errorf("file extension '%s' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt", ext)
	}
	return nil
}

// topIndent refuses a rendered file whose first line is indented.
func topIndent(body string) error {
	s := bufio.NewScanner(strings.NewReader(body))
	s.Buffer(nil, 1<<30)
	for s.Scan() {
		line := s.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			return fmt.Errorf("document starts with an illegal indent: %q, which may cause parsing problems", line)
		}
		return nil
	}
	return s.Err()
}

// metadataName checks an object's name as the API server would for its
// kind (as helm lint does).
func metadataName(h manifest.Header) error {
	var fn validation.ValidateNameFunc
	switch strings.ToLower(h.Kind) {
	case "service":
		fn = validation.NameIsDNS1035Label
	case "namespace":
		fn = validation.ValidateNamespaceName
	case "serviceaccount":
		fn = validation.ValidateServiceAccountName
	case "certificatesigningrequest":
		return nil
	case "role", "clusterrole", "rolebinding", "clusterrolebinding":
		fn = func(name string, _ bool) []string { return content.IsPathSegmentName(name) }
	default:
		fn = validation.NameIsDNSSubdomain
	}
	var errs kfield.ErrorList
	for _, msg := range fn(h.Name, false) {
		errs = append(errs, kfield.Invalid(kfield.NewPath("metadata").Child("name"), h.Name, msg))
	}
	if len(errs) > 0 {
		return fmt.Errorf("object name does not conform to Kubernetes naming requirements: %q: %w", h.Name, errs.ToAggregate())
	}
	return nil
}

var deprecations sync.Map // schema.GroupVersionKind + version → error

// deprecated warns of an API Kubernetes deprecates at the version charts
// are rendered for.
func deprecated(h manifest.Header, kv *common.KubeVersion) error {
	if kv == nil {
		kv = &common.DefaultCapabilities.KubeVersion
	}
	gvk := schema.FromAPIVersionAndKind(h.APIVersion, h.Kind)
	type key struct {
		gvk          schema.GroupVersionKind
		major, minor string
	}
	k := key{gvk, kv.Major, kv.Minor}
	if v, ok := deprecations.Load(k); ok {
		err, _ := v.(error)
		return err
	}
	err := func() error {
		obj, err := scheme.Scheme.New(gvk)
		if err != nil {
			return nil // not one of Kubernetes' own kinds
		}
		major, err := strconv.Atoi(kv.Major)
		if err != nil {
			return err
		}
		minor, err := strconv.Atoi(kv.Minor)
		if err != nil {
			return err
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		if !deprecation.IsDeprecated(obj, major, minor) {
			return nil
		}
		return errors.New(deprecation.WarningMessage(obj))
	}()
	deprecations.Store(k, err)
	return err
}

func matchSelector(h manifest.Header, body string) error {
	switch h.Kind {
	case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet":
		if !strings.Contains(body, "matchLabels") && !strings.Contains(body, "matchExpressions") {
			return fmt.Errorf("a %s must contain matchLabels or matchExpressions, and %q does not", h.Kind, h.Name)
		}
	}
	return nil
}

func listAnnotations(h manifest.Header, doc []byte) error {
	if h.Kind != "List" {
		return nil
	}
	var m struct {
		Items []struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := yaml.Unmarshal(doc, &m); err != nil {
		return fmt.Errorf("unable to parse YAML: %w", err)
	}
	for _, i := range m.Items {
		if _, ok := i.Metadata.Annotations["helm.sh/resource-policy"]; ok {
			return errors.New("annotation 'helm.sh/resource-policy' within List objects are ignored")
		}
	}
	return nil
}

// lintDependencies is Helm's dependencies rule: Chart.yaml and charts/
// agree, and no two dependencies share a name.
func lintDependencies(l *support.Linter, c *chartv2.Chart) {
	inDir := map[string]bool{}
	for _, d := range c.Dependencies() {
		inDir[d.Metadata.Name] = true
	}
	declared := map[string]bool{}
	var undeclared, missing, shadowed []string
	for _, d := range c.Metadata.Dependencies {
		declared[d.Name] = true
		if !inDir[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	for _, d := range c.Dependencies() {
		if !declared[d.Metadata.Name] {
			undeclared = append(undeclared, d.Metadata.Name)
		}
	}
	seen := map[string]bool{}
	for _, d := range c.Metadata.Dependencies {
		k := d.Name
		if d.Alias != "" {
			k = d.Alias
		}
		if seen[k] {
			shadowed = append(shadowed, k)
		}
		seen[k] = true
	}
	list := func(msg string, names []string) error {
		if len(names) == 0 {
			return nil
		}
		return fmt.Errorf("%s: %s", msg, strings.Join(names, ","))
	}
	l.RunLinterRule(support.ErrorSev, l.ChartDir, list("chart metadata is missing these dependencies", undeclared))
	l.RunLinterRule(support.ErrorSev, l.ChartDir, list("multiple dependencies with name or alias", shadowed))
	l.RunLinterRule(support.WarningSev, l.ChartDir, list("chart directory is missing these dependencies", missing))
}

// lintCRDs is Helm's CRDs rule: every document in crds/ is a
// CustomResourceDefinition (its schema is checked with the release).
func lintCRDs(l *support.Linter, c *chartv2.Chart) {
	// Helm lints them only when the chart has a crds/ directory of its own
	// (and then its subcharts' too).
	if !slices.ContainsFunc(c.Files, func(f *common.File) bool { return strings.HasPrefix(f.Name, "crds/") }) {
		return
	}
	for _, crd := range c.CRDObjects() {
		docs, err := manifest.Docs(string(crd.File.Data))
		if err == nil {
			for _, doc := range docs {
				var h manifest.Header
				if h, err = manifest.Parse(doc); err != nil {
					break
				}
				if h == (manifest.Header{}) && manifest.Blank(doc) {
					continue
				}
				if !strings.HasPrefix(h.APIVersion, "apiextensions.k8s.io") {
					l.RunLinterRule(support.ErrorSev, crd.Name, errors.New("apiVersion is not in 'apiextensions.k8s.io'"))
				}
				if h.Kind != "CustomResourceDefinition" {
					l.RunLinterRule(support.ErrorSev, crd.Name, errors.New("object kind is not 'CustomResourceDefinition'"))
				}
			}
		}
		if err != nil {
			l.RunLinterRule(support.ErrorSev, crd.Name, fmt.Errorf("unable to parse YAML: %w", err))
			return
		}
	}
}
