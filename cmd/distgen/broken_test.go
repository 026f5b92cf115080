package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/distgen/distgen/tests/fixture"
)

// Each case breaks a copy of testdata/base in one way. The build must exit
// with 1, name the file:line:col or the component, and leave the output
// directory as it was.
func TestBrokenBundles(t *testing.T) {
	type change struct{ file, old, new string }
	const bundle = "bundles/test.cue"
	cases := []struct {
		name    string
		changes []change
		// setup changes the copy in ways edits cannot (links, FIFOs).
		setup func(t *testing.T, root string)
		want  []string // regexps the error output must match
		// vet: distgen vet must fail the same way.
		vet bool
		// args are further flags of distgen build.
		args []string
		// once are regexps that must match exactly once.
		once []string
	}{
		{
			name:    "type mismatch",
			changes: []change{{bundle, `namespace: "ns-a"`, `namespace: "ns-a"` + "\n\t\tprivileged: \"yes\""}},
			want:    []string{`bundles/test\.cue:6:15: bundles\.test\.components\.a\.privileged: invalid value "yes": must be a bool \(schema: privileged: bool \| \*false\)`},
		},
		{
			name:    "unknown field",
			changes: []change{{bundle, `namespace: "ns-a"`, `namespace: "ns-a"` + "\n\t\treplicas: 3"}},
			want:    []string{`bundles/test\.cue:6:3: bundles\.test\.components\.a\.replicas: field not allowed`},
		},
		{
			name:    "dependency cycle",
			changes: []change{{bundle, `chart: path: "packages/system/app"` + "\n\t}\n\tb:", `chart: path: "packages/system/app"` + "\n\t\tdependsOn: [\"c\"]\n\t}\n\tb:"}},
			want:    []string{`bundles/test\.cue:4:2: component "a": dependency cycle: a -> c -> b -> a`},
		},
		{
			name:    "unknown dependency",
			changes: []change{{bundle, `dependsOn: ["a"]`, `dependsOn: ["a", "nope"]`}},
			want:    []string{`bundles/test\.cue:8:2: component "b": dependsOn "nope": no such component in bundle "test"`},
		},
		{
			name:    "duplicate release",
			changes: []change{{bundle, `privileged: true`, "privileged: true\n\t\treleaseName: \"b\""}},
			want:    []string{`bundles/test\.cue:\d+:\d+: component "c": release name "b" in namespace "ns-b" is taken by component "b"`},
		},
		{
			name: "bad name",
			changes: []change{
				{bundle, "\topt: {", "\tBad_Name: {\n\t\tnamespace: \"ns-a\"\n\t\tchart: path: \"packages/system/app\"\n\t}\n\topt: {"},
				{"versions.cue", `opt: chart: "0.1.0"`, `opt: chart: "0.1.0"` + "\n\t\tBad_Name: chart: \"0.1.0\""},
			},
			want: []string{`versions\.cue:\d+:\d+: versions\.components\.Bad_Name: field not allowed`, `bundles/test\.cue:\d+:\d+: bundles\.test\.components\.Bad_Name\.name: invalid value "Bad_Name"`},
		},
		{
			name:    "bad version",
			changes: []change{{"versions.cue", `a: chart: "1.0.0"`, `a: chart: "1.0"`}},
			want:    []string{`versions\.cue:9:13: versions\.components\.a\.chart: invalid value "1\.0"`},
		},
		{
			name:    "missing chart directory",
			changes: []change{{bundle, "\tb: {\n\t\tnamespace: \"ns-b\"\n\t\tchart: path: \"packages/system/app\"", "\tb: {\n\t\tnamespace: \"ns-b\"\n\t\tchart: path: \"packages/system/gone\""}},
			want:    []string{`bundles/test\.cue:8:2: component "b": chart directory packages/system/gone: no Chart\.yaml`},
		},
		{
			name:    "template error",
			changes: []change{{"packages/system/app/templates/broken.yaml", "", "value: {{ .Values.missing.deeper }}\n"}},
			want:    []string{`bundles/test\.cue:4:2: component "a": .*templates/broken\.yaml`, `component "b"`, `component "c"`},
		},
		{
			name:    "disabled dependency",
			changes: []change{{bundle, `dependsOn: ["a"]`, `dependsOn: ["a", "opt"]`}},
			want:    []string{`bundles/test\.cue:8:2: component "b": is enabled but depends on "opt", which is disabled`},
		},
		{
			name:    "upstream chart not vendored",
			changes: []change{{bundle, "\topt: {", "\twrapped: {\n\t\tnamespace: \"ns-w\"\n\t\tchart: upstream: [{repository: \"https://stefanprodan.github.io/podinfo\", name: \"podinfo\"}]\n\t}\n\topt: {"}},
			want: []string{`component "wrapped": upstream chart not vendored: podinfo 6\.5\.0 from https://stefanprodan\.github\.io/podinfo`,
				`fetch it with: distgen vendor`},
		},
		{
			name:    "missing values file",
			changes: []change{{bundle, `values: greeting: "hi"`, "values: greeting: \"hi\"\n\t\tvaluesFiles: [\"values.yaml\", \"values-extra.yaml\"]"}},
			want:    []string{`bundles/test\.cue:8:2: component "b": values file packages/system/app/values-extra\.yaml`},
		},
		{
			name: "path and upstream both set",
			changes: []change{
				{bundle, "\t\tprivileged: true", "\t\tprivileged: true\n\t\tchart: upstream: [{repository: \"oci://ghcr.io/x\", name: \"podinfo\"}]"},
				{"versions.cue", `c: chart: "2.0.0"`, `c: {chart: "2.0.0", upstream: podinfo: "6.5.0"}`},
			},
			want: []string{`component "c": chart sets both path and upstream`},
		},
		{
			name:  "symlink to a file outside the project",
			setup: symlink("packages/system/app/templates/passwd.yaml", "/etc/passwd"),
			want:  []string{`bundles/test\.cue:4:2: component "a": packages/system/app/templates/passwd\.yaml: symlink to /etc/passwd leaves the chart directory`},
			vet:   true,
		},
		{
			name:  "symlink into /proc",
			setup: symlink("packages/system/app/files/env", "/proc/self/environ"),
			want:  []string{`packages/system/app/files/env: symlink to /proc/self/environ leaves the chart directory`},
			vet:   true,
		},
		{
			name: "symlinked directory outside the project",
			setup: func(t *testing.T, root string) {
				outside := t.TempDir()
				writeFile(t, filepath.Join(outside, "secret.yaml"), "kind: Secret\n")
				symlink("packages/system/app/templates/ext", outside)(t, root)
			},
			want: []string{`packages/system/app/templates/ext: symlink to .* leaves the chart directory`},
			vet:  true,
		},
		{
			name: "chart directory is a symlink out of the project",
			setup: func(t *testing.T, root string) {
				outside := filepath.Join(t.TempDir(), "chart")
				if err := os.CopyFS(outside, os.DirFS(filepath.Join(root, "packages/system/app"))); err != nil {
					t.Fatal(err)
				}
				symlink("packages/system/linked", outside)(t, root)
			},
			changes: []change{{bundle, "chart: path: \"packages/system/app\"\n\t\tdependsOn: [\"b\"]", "chart: path: \"packages/system/linked\"\n\t\tdependsOn: [\"b\"]"}},
			want:    []string{`component "c": chart directory packages/system/linked: resolves to .*, outside the project`},
			vet:     true,
		},
		{
			name:    "values file outside the chart",
			changes: []change{{bundle, `values: greeting: "hi"`, "values: greeting: \"hi\"\n\t\tvaluesFiles: [\"values.yaml\", \"../../../../../outside/creds.yaml\"]"}},
			want:    []string{`component "b": values file .*creds\.yaml: \.\./\.\./\.\./\.\./\.\./outside/creds\.yaml is not a path inside the chart directory`},
			vet:     true,
		},
		{
			name: "FIFO in the chart",
			setup: func(t *testing.T, root string) {
				if err := syscall.Mkfifo(filepath.Join(root, "packages/system/app/templates/pipe.yaml"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{`packages/system/app/templates/pipe\.yaml: not a regular file \(a FIFO\)`},
			vet:  true,
		},
		{
			name: "file over the size limit",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "packages/system/app/files/big.bin"), strings.Repeat("x", 21<<20))
			},
			want: []string{`packages/system/app/files/big\.bin: 22020096 bytes, over the limit of 20971520 for one file`},
			vet:  true,
		},
		{
			name: "vendored archive unlike its pin",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "packages/vendor/podinfo-6.5.0.tgz"), "another archive")
			},
			changes: []change{{bundle, "	opt: {", "	wrapped: {\n\t\tnamespace: \"ns-w\"\n\t\tchart: upstream: [{repository: \"https://stefanprodan.github.io/podinfo\", name: \"podinfo\", digest: \"sha256:" + strings.Repeat("0", 64) + "\"}]\n\t}\n\topt: {"}},
			want:    []string{`component "wrapped": packages/vendor/podinfo-6\.5\.0\.tgz has digest sha256:[0-9a-f]{64}, not sha256:0{64} \(the digest the bundle pins\)`},
			vet:     true,
		},
		{
			name: "vendored archive neither pinned nor locked",
			setup: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "packages/vendor/podinfo-6.5.0.tgz"), "another archive")
			},
			changes: []change{{bundle, "	opt: {", "	wrapped: {\n\t\tnamespace: \"ns-w\"\n\t\tchart: upstream: [{repository: \"https://stefanprodan.github.io/podinfo\", name: \"podinfo\"}]\n\t}\n\topt: {"}},
			want:    []string{`component "wrapped": packages/vendor/podinfo-6\.5\.0\.tgz: neither pinned by digest nor in versions\.lock\.json`},
			vet:     true,
		},
		{
			name:    "release name not a DNS label",
			changes: []change{{bundle, `values: greeting: "hi"`, "values: greeting: \"hi\"\n\t\treleaseName: \"Bad_Name\""}},
			once:    []string{`bundles/test\.cue:13:16: bundles\.test\.components\.b\.releaseName: invalid value "Bad_Name": must be a DNS-1123 label: .*, at most 53 characters \(schema: releaseName: #Name \| \*name\)`},
			vet:     true,
		},
		{
			name:    "bad version reported once",
			changes: []change{{"versions.cue", `a: chart: "1.0.0"`, `a: chart: "1.0"`}},
			once:    []string{`invalid value "1\.0": must be SemVer 2\.0\.0, such as 1\.2\.3 or 1\.2\.3-rc\.1`},
			vet:     true,
		},
		{
			name:    "timeout not a duration",
			changes: []change{{bundle, `values: greeting: "hi"`, "values: greeting: \"hi\"\n\t\ttimeout: \"forever\""}},
			once:    []string{`bundles\.test\.components\.b\.timeout: invalid value "forever": must be a duration such as 30s, 5m, 1h \(schema: timeout: #Duration \| \*"5m"\)`},
		},
		{
			name:    "CRD policy unknown",
			changes: []change{{bundle, `values: greeting: "hi"`, "values: greeting: \"hi\"\n\t\tcrds: \"Sometimes\""}},
			once:    []string{`bundles\.test\.components\.b\.crds: invalid value "Sometimes": must be one of Skip, Create, CreateReplace`},
		},
		{
			name:    "missing import",
			changes: []change{{"bundles/bundles.cue", `"github.com/distgen/distgen/schemas"`, `"github.com/distgen/distgen/schemaz"`}},
			want:    []string{`bundles/bundles\.cue:4:2: .*import failed: cannot find package "github\.com/distgen/distgen/schemaz"`},
			vet:     true,
		},
		{
			name:    "several components without a version",
			changes: []change{{"versions.cue", "\t\ta: chart: \"1.0.0\"\n\t\tb: chart: \"1.1.0\"\n", ""}},
			once:    []string{`component[s]?\.a\.version: .*undefined field: a`, `components\.b\.version: .*undefined field: b`},
			vet:     true,
		},
		{
			name: "bundle that does not use the schema",
			changes: []change{
				{"bundles/bundles.cue", "bundles: [Name=string]: schemas.#Bundle & {", "bundles: [Name=string]: {"},
				{"bundles/bundles.cue", "\t\"github.com/distgen/distgen/schemas\"\n", ""},
				{bundle, `namespace: "ns-a"`, "namespace: \"ns-a\"\n\t\treplica: 3"},
			},
			once: []string{`bundles/test\.cue:6:3: bundles\.test\.components\.a\.replica: field not allowed`},
			vet:  true,
		},
		{
			name: "bundle without the schema or a version",
			changes: []change{
				{"bundles/bundles.cue", "bundles: [Name=string]: schemas.#Bundle & {", "bundles: [Name=string]: {"},
				{"bundles/bundles.cue", "\t\"github.com/distgen/distgen/schemas\"\n", ""},
				{"bundles/bundles.cue", "\t\tversion: dist.versions.components[C].chart\n", ""},
			},
			once: []string{`components\.a\.version: missing: must be SemVer 2\.0\.0`, `components\.b\.version: missing: must be SemVer`, `components\.c\.version: missing: must be SemVer`},
			vet:  true,
		},
		{
			name:    "privileged and not in an undeclared namespace",
			changes: []change{{bundle, `bundles: test: namespaces: "ns-b": podSecurity: "privileged"`, ""}},
			once:    []string{`bundles/test\.cue:8:2: component "b": shares namespace "ns-b" with component "c", which is privileged while "b" is not; declare the namespace's level`},
			vet:     true,
		},
		{
			name:    "privileged component in a baseline namespace",
			changes: []change{{bundle, `"ns-b": podSecurity: "privileged"`, `"ns-b": podSecurity: "baseline"`}},
			once:    []string{`bundles/test\.cue:14:2: component "c": is privileged, but namespace "ns-b" is declared podSecurity: "baseline"`},
			vet:     true,
		},
		{
			name:    "unknown Pod Security level",
			changes: []change{{bundle, `"ns-b": podSecurity: "privileged"`, `"ns-b": podSecurity: "lax"`}},
			once:    []string{`bundles\.test\.namespaces\."ns-b"\.podSecurity: invalid value "lax": must be one of privileged, baseline, restricted`},
			vet:     true,
		},
		{
			name: "versions that do not use the schema",
			changes: []change{
				{"versions.cue", "versions: schemas.#Versions & {", "versions: {"},
				{"versions.cue", "import \"github.com/distgen/distgen/schemas\"\n", ""},
				{"versions.cue", `distribution: "1.2.3"`, "distribution: \"1.2.3\"\n\tcodename: \"x\""},
			},
			once: []string{`versions\.cue:\d+:\d+: versions\.codename: field not allowed`},
			vet:  true,
		},
		{
			name:    "template that loops for ever",
			changes: []change{{"packages/system/app/templates/loop.yaml", "", "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n"}},
			args:    []string{"--chart-timeout", "2s"},
			want:    []string{`bundles/test\.cue:4:2: component "a": render: .*rendering took longer than 2s, the time limit for one chart \(--chart-timeout\)`},
		},
		{
			name:    "template that renders gigabytes",
			changes: []change{{"packages/system/app/templates/big.yaml", "", "x: {{ repeat 400000000 \"x\" }}\n"}},
			want:    []string{`component "a": render: .*repeat makes 400000000 bytes, more than the 134217728 a chart may render \(--max-render-size\)`},
		},
		{
			name: "output over the render size",
			args: []string{"--max-render-size", "10"},
			want: []string{`component "a": render: over a bound: the rendered manifests hold \d+ bytes, more than the 10 a chart may render \(--max-render-size\)`},
		},
		{
			// Resource bounds under hostile input: a values file of nested
			// aliases that would expand to 9^9 strings (a billion laughs).
			name:    "values file that is a billion laughs",
			changes: []change{{bundle, `values: greeting: "hi"`, "values: greeting: \"hi\"\n\t\tvaluesFiles: [\"values.yaml\", \"values-laughs.yaml\"]"}, {"packages/system/app/values-laughs.yaml", "", billionLaughs}},
			want:    []string{`component "b": .*values-laughs\.yaml.*(alias|too many)`},
		},
		{
			name:    "chart values that are a billion laughs",
			changes: []change{{"packages/system/app/values.yaml", "", billionLaughs}},
			want:    []string{`packages/system/app/values\.yaml.*(alias|too many)`},
		},
		{
			// A template whose output grows quadratically with its loop:
			// stopped by the chart's time limit, the component named.
			name:    "template that is quadratic",
			changes: []change{{"packages/system/app/templates/quadratic.yaml", "", "{{- $s := \"x\" }}{{- range until 200000 }}{{- $s = printf \"%s%s\" $s \"x\" }}{{- end }}\nx: {{ len $s }}\n"}},
			args:    []string{"--chart-timeout", "2s"},
			want:    []string{`component "a": render: .*(took longer than 2s|more than the)`},
		},
		{
			name:    "several problems at once",
			changes: []change{{bundle, `dependsOn: ["a"]`, `dependsOn: ["a", "nope", "opt"]`}},
			want:    []string{`dependsOn "nope"`, `depends on "opt", which is disabled`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := fixture.Copy(t, "testdata/base")
			for _, c := range tc.changes {
				edit(t, filepath.Join(root, c.file), c.old, c.new)
			}
			if tc.setup != nil {
				tc.setup(t, root)
			}
			if tc.vet {
				code, _, stderr := runCLI(t, "vet", "-C", root)
				if code != exitUser {
					t.Fatalf("vet: exit code %d, want %d\nstderr:\n%s", code, exitUser, stderr)
				}
				checkStderr(t, "vet", stderr, tc.want, tc.once)
			}
			// A previous build's output must survive the failed build.
			out := filepath.Join(t.TempDir(), "dist")
			if err := os.MkdirAll(filepath.Join(out, "charts"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range map[string]string{"release.json": `{"bundle":"previous"}`, "charts/x-1.0.0.tgz": "old"} {
				if err := os.WriteFile(filepath.Join(out, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := fixture.Read(t, filepath.Dir(out))

			code, stdout, stderr := runCLI(t, append([]string{"build", "-C", root, "--out", out}, tc.args...)...)
			if code != exitUser {
				t.Fatalf("exit code %d, want %d\nstderr:\n%s", code, exitUser, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty on failure:\n%s", stdout)
			}
			checkStderr(t, "build", stderr, tc.want, tc.once)
			if after := fixture.Read(t, filepath.Dir(out)); !reflect.DeepEqual(before, after) {
				t.Errorf("output changed by a failed build:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// symlink returns a setup that makes the link at rel (under the project
// root) point at target.
func symlink(rel, target string) func(*testing.T, string) {
	return func(t *testing.T, root string) {
		t.Helper()
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkStderr matches a failed command's stderr: every want at least once,
// every once exactly once, and no position in distgen's own schema files,
// which the user's project does not hold.
func checkStderr(t *testing.T, cmd, stderr string, want, once []string) {
	t.Helper()
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(stderr) {
			t.Errorf("%s: stderr does not match %q:\n%s", cmd, w, stderr)
		}
	}
	for _, w := range once {
		if n := len(regexp.MustCompile(w).FindAllString(stderr, -1)); n != 1 {
			t.Errorf("%s: %q matches %d times, want once:\n%s", cmd, w, n, stderr)
		}
	}
	if regexp.MustCompile(`schemas/\w+\.cue`).MatchString(stderr) {
		t.Errorf("%s: stderr names a schema file:\n%s", cmd, stderr)
	}
}

// billionLaughs is a YAML document of nested aliases that would expand to
// 9^9 strings.
const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
