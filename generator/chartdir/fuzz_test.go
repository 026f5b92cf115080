package chartdir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A chart directory of any shape (a file at any path, a link to anywhere,
// any .helmignore) is read or refused, never followed outside itself:
// nothing outside the chart (a secret beside it) is ever among the files
// read, and a refusal names the file.
func FuzzReadChartDir(f *testing.F) {
	f.Add("templates/cm.yaml", "data", "templates/link.yaml", "../../secret", "")
	f.Add("values.yaml", "a: 1", "templates/x", "/etc/passwd", "*.tmp\n")
	f.Add("charts/sub/Chart.yaml", "name: sub", "charts/up", "..", "templates/\n")
	f.Add("a/b/c.txt", "x", "self", ".", "[\n")
	lim := Limits{File: 1 << 16, Chart: 1 << 20}
	f.Fuzz(func(t *testing.T, file, content, link, target, helmignore string) {
		for _, p := range []string{file, link} {
			if p == "" || filepath.IsAbs(p) || strings.ContainsAny(p, "\x00\\") || strings.Contains("/"+p+"/", "/../") ||
				strings.Contains("/"+p+"/", "/./") || strings.Contains(p, "//") || strings.HasSuffix(p, "/") || len(p) > 200 {
				return
			}
		}
		if strings.Contains(target, "\x00") || len(content) > 4096 || len(helmignore) > 4096 {
			return
		}
		base := t.TempDir()
		if err := os.WriteFile(filepath.Join(base, "secret"), []byte("SECRET-OUTSIDE"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(base, "chart")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: c\nversion: 0.1.0\n"), 0o644)
		if helmignore != "" {
			os.WriteFile(filepath.Join(dir, ".helmignore"), []byte(helmignore), 0o644)
		}
		if os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755) != nil || os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644) != nil {
			return
		}
		if os.MkdirAll(filepath.Dir(filepath.Join(dir, link)), 0o755) != nil || os.Symlink(target, filepath.Join(dir, link)) != nil {
			return
		}
		files, err := Read(dir, "packages/c", lim)
		if err != nil {
			var p *Problem
			if errors.As(err, &p) && !strings.HasPrefix(p.Path, "packages/c") {
				t.Errorf("a refusal that does not name the chart's file: %v", err)
			}
			return
		}
		total := 0
		for _, fl := range files {
			total += len(fl.Data)
			if bytes.Contains(fl.Data, []byte("SECRET-OUTSIDE")) {
				t.Errorf("%s read from outside the chart (link %s -> %s)", fl.Name, link, target)
			}
		}
		if int64(total) > lim.Chart {
			t.Errorf("%d bytes read, over the chart limit %d", total, lim.Chart)
		}
	})
}
