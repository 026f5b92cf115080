package load

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Whatever a bundle file holds, loading the project gives either a project
// or the user's errors, each with a position (file:line:col or the file)
// or a component to act on; never a panic and never an error of another
// kind.
func FuzzLoadBundle(f *testing.F) {
	root := filepath.Join(f.TempDir(), "project")
	if err := os.CopyFS(root, os.DirFS("../../cmd/distgen/testdata/base")); err != nil {
		f.Fatal(err)
	}
	bundle := filepath.Join(root, BundlesDir, "fuzz.cue")
	f.Add("package bundles\n")
	f.Add("package bundles\n\nbundles: test: components: z: {namespace: \"ns-z\", chart: path: \"packages/system/app\"}\n")
	f.Add("package bundles\n\nbundles: test: components: a: dependsOn: [\"a\"]\n")
	f.Add("package bundles\n\nbundles: test: components: a: namespace: \"Not A Label\"\n")
	f.Add("package bundles\nimport \"no/such/pkg\"\n")
	f.Add("package other\n")
	f.Add("package bundles\n\nbundles: test: components: a: chart: path: \"../../../etc\"\n")
	f.Fuzz(func(t *testing.T, src string) {
		if err := os.WriteFile(bundle, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Project(root)
		if err == nil {
			return
		}
		var es Errors
		var e *Error
		switch {
		case errors.As(err, &es):
			for _, e := range es {
				if e.Pos == "" && e.Component == "" {
					t.Errorf("an error with no position and no component: %v", e)
				}
			}
		case errors.As(err, &e):
			if e.Pos == "" && e.Component == "" {
				t.Errorf("an error with no position and no component: %v", e)
			}
		default:
			t.Errorf("not the user's error: %T %v\n%s", err, err, src)
		}
		if strings.Contains(err.Error(), root) {
			t.Errorf("the error names the absolute root, not the project's files: %v", err)
		}
	})
}
