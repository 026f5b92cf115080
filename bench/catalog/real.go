package catalog

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Shape is what a generated catalog's charts look like.
type Shape string

const (
	// Simple gives every component one tiny chart (two objects), and one
	// chart in LargeEvery several MB of CRDs: the first benchmark catalog.
	Simple Shape = "simple"
	// Real gives the components charts shaped like a production platform's
	// (91 charts, 34.8 MB of chart sources of which 14.8 MB templates):
	// a few charts render MB of CRDs from templates/, a few more ship them
	// in crds/, a third wrap an upstream chart vendored under charts/
	// (declared in Chart.yaml or not, some with a library chart of their
	// own) with helper-heavy templates and large commented values files,
	// one has 147 template files, some ship dashboards as static files,
	// and the median chart is about 50 KB with three templates.
	Real Shape = "real"
)

// The kinds of chart a Real catalog mixes, by component index.
type chartKind int

const (
	kindSmall    chartKind = iota // 3 templates, commented values: the median chart
	kindVendored                  // an upstream chart under charts/
	kindGiant                     // MB of CRDs rendered from templates/
	kindCRDDir                    // CRDs in crds/ and an upstream chart
	kindMany                      // 147 template files
)

func realKind(i int) chartKind {
	switch {
	case i%50 == 7:
		return kindGiant
	case i%100 == 43:
		return kindMany
	case i%14 == 3:
		return kindCRDDir
	case i%10 == 1 || i%10 == 5 || i%20 == 8:
		return kindVendored
	}
	return kindSmall
}

// image splits a reference into the registry, repository and tag values
// charts take.
func splitImage(ref string) (registry, repository, tag string) {
	registry, rest, _ := strings.Cut(ref, "/")
	repository, tag, _ = strings.Cut(rest, ":")
	return registry, repository, tag
}

// realChart writes the chart of component i (name, under dir) shaped as in
// Real, and returns the lines the component adds to its bundle entry.
func realChart(files map[string][]byte, seed uint64, i int, name, dir string, o Options) []string {
	r := rand.New(rand.NewPCG(seed^uint64(i)*0x2545f4914f6cdd1d, uint64(i)))
	g := &gen{r: r, o: o}
	kind := realKind(i)
	put := func(path string, body string) { files[dir+"/"+path] = []byte(body) }
	meta := fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 0.0.0\nappVersion: \"1.%d.%d\"\ndescription: %s\nkeywords: [platform, %s]\nmaintainers:\n  - name: Platform team\n", name, r.IntN(20), r.IntN(10), g.sentence(), words[r.IntN(len(words))])
	var bundle []string
	workloads := 1
	switch kind {
	case kindMany:
		workloads = 36 // 4 templates each: 147 files with the helpers, notes and policy
	case kindSmall:
	default:
		workloads = 1 + r.IntN(2)
	}
	values := g.values(name, workloads, 3+r.IntN(6))
	put("templates/_helpers.tpl", g.helpers(name, 6+r.IntN(6)))
	for k := range workloads {
		put(fmt.Sprintf("templates/k%d-deployment.yaml", k), g.deployment(name, k))
		put(fmt.Sprintf("templates/k%d-configmap.yaml", k), g.configMap(name, k))
		if kind != kindSmall {
			put(fmt.Sprintf("templates/k%d-service.yaml", k), g.service(name, k))
		}
		if kind == kindMany {
			put(fmt.Sprintf("templates/k%d-serviceaccount.yaml", k), g.serviceAccount(name, k))
		}
	}
	if kind == kindMany {
		put("templates/NOTES.txt", "{{ .Chart.Name }} is installed as {{ .Release.Name }}.\n")
		put("templates/networkpolicy.yaml", networkPolicy(name))
	}
	bundle = append(bundle, fmt.Sprintf("values: {k0: {replicas: %d}, logLevel: %q}", 1+r.IntN(3), [...]string{"info", "debug"}[r.IntN(2)]))
	if i%12 == 6 { // a monitoring chart: dashboards as static files
		for d := range 2 + r.IntN(4) {
			put(fmt.Sprintf("files/dashboards/dashboard-%d.json", d), g.dashboard(60<<10+r.IntN(140<<10)))
		}
		put("templates/dashboards.yaml", dashboardsTemplate(name))
	}
	switch kind {
	case kindGiant:
		size := 2<<20 + r.IntN(3<<20)/2
		if i == 7 {
			size = 4400 << 10 // the largest chart of the reference
			put("values-talos.yaml", "k0:\n  env:\n    TALOS: \"true\"\n")
			put("values-kubeovn.yaml", "k0:\n  env:\n    CNI: kube-ovn\n")
			bundle = append(bundle, `valuesFiles: ["values.yaml", "values-talos.yaml", "values-kubeovn.yaml"]`)
		}
		crd := string(crds(r, name, size))
		crd = strings.ReplaceAll(crd, "\nmetadata:\n  name:", "\nmetadata:\n  labels:\n    {{- include \""+name+".labels\" . | nindent 4 }}\n  name:")
		put("templates/crds.yaml", "{{- if .Values.crds.install }}\n"+crd+"{{- end }}\n")
		values += "# Install the CustomResourceDefinitions with the chart.\ncrds:\n  install: true\n"
	case kindCRDDir:
		if i%28 == 3 {
			put("crds/crds.yaml", string(crds(r, name, 200<<10+r.IntN(1<<20))))
		}
	}
	if kind == kindVendored || kind == kindCRDDir {
		up := "up" + name
		declared := i%20 < 10
		library := i%3 == 0
		upWork := 6 + r.IntN(15)
		upDir := "charts/" + up + "/"
		upMeta := fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 2.%d.%d\nappVersion: \"2.%d.0\"\ndescription: %s\nhome: https://charts.example.invalid/%s\n", up, r.IntN(10), r.IntN(10), r.IntN(10), g.sentence(), up)
		if library {
			upMeta += "dependencies:\n  - name: common\n    version: 2.31.0\n    repository: https://charts.example.invalid\n"
			put(upDir+"charts/common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 2.31.0\ntype: library\ndescription: Helpers shared by charts\n")
			put(upDir+"charts/common/values.yaml", "exampleValue: common-chart\n")
			put(upDir+"charts/common/templates/_names.tpl", g.library())
			put(upDir+"charts/common/templates/_tplvalues.tpl", tplValues)
		}
		put(upDir+"Chart.yaml", upMeta)
		upValues := g.values(up, upWork, 20+r.IntN(60))
		if kind == kindCRDDir {
			upValues += "# Install the CustomResourceDefinitions with the chart.\ninstallCRDs: true\n"
		}
		put(upDir+"values.yaml", upValues)
		put(upDir+"README.md", g.readme(up, upWork))
		put(upDir+"templates/_helpers.tpl", g.helpers(up, 80+r.IntN(160)))
		if kind == kindCRDDir && i%28 != 3 { // the upstream chart renders its CRDs
			put(upDir+"templates/crds.yaml", "{{- if .Values.installCRDs }}\n"+string(crds(r, up, 200<<10+r.IntN(1<<20)))+"{{- end }}\n")
		}
		put(upDir+"templates/NOTES.txt", "Thank you for installing {{ .Chart.Name }}.\nIts release is {{ .Release.Name }} in {{ .Release.Namespace }}.\n")
		for k := range upWork {
			put(fmt.Sprintf("%stemplates/k%d-deployment.yaml", upDir, k), g.deployment(up, k))
			put(fmt.Sprintf("%stemplates/k%d-service.yaml", upDir, k), g.service(up, k))
			put(fmt.Sprintf("%stemplates/k%d-configmap.yaml", upDir, k), g.configMap(up, k))
			put(fmt.Sprintf("%stemplates/k%d-serviceaccount.yaml", upDir, k), g.serviceAccount(up, k))
			if k%2 == 0 {
				put(fmt.Sprintf("%stemplates/k%d-rbac.yaml", upDir, k), g.rbac(up, k))
			}
		}
		if declared {
			meta += fmt.Sprintf("dependencies:\n  - name: %s\n    version: %s\n    repository: https://charts.example.invalid\n", up, strings.Fields(strings.SplitN(upMeta, "\nversion: ", 2)[1])[0])
		}
		values += fmt.Sprintf("# Values of the vendored %s chart.\n%s:\n  k0:\n    replicas: 2\n", up, up)
		bundle = append(bundle, fmt.Sprintf("values: %s: k1: replicas: %d", up, 1+r.IntN(3)))
	}
	put("Chart.yaml", meta)
	put("values.yaml", values)
	put(".helmignore", ".git/\n*.swp\n*.bak\n*.tmp\n.idea/\n.vscode/\n")
	return bundle
}

// gen makes the text of generated charts.
type gen struct {
	r *rand.Rand
	o Options
}

func (g *gen) sentence() string {
	n := 6 + g.r.IntN(18)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = words[g.r.IntN(len(words))]
	}
	return strings.ToUpper(ws[0][:1]) + strings.Join(ws, " ")[1:] + "."
}

func (g *gen) word() string { return words[g.r.IntN(len(words))] }

// comment writes lines of prose, each under prefix "# ".
func (g *gen) comment(b *strings.Builder, indent string, lines int) {
	for range lines {
		fmt.Fprintf(b, "%s# %s\n", indent, g.sentence())
	}
}

// values is a commented values.yaml for workloads k0..k(n-1) and extra
// blocks of commented settings, like upstream charts' values files.
func (g *gen) values(chart string, n, extra int) string {
	var b strings.Builder
	registry, repository, tag := splitImage(g.o.Image)
	g.comment(&b, "", 4)
	b.WriteString("global:\n  # Registry every image is pulled from unless an image names its own.\n  imageRegistry: \"\"\n")
	b.WriteString("nameOverride: \"\"\nfullnameOverride: \"\"\nlogLevel: info\n")
	b.WriteString("# Labels added to every object; rendered with tpl.\ncommonLabels:\n  platform.example.io/part-of: \"{{ .Release.Name }}\"\n")
	for k := range n {
		g.comment(&b, "", 3)
		fmt.Fprintf(&b, "k%d:\n  enabled: true\n  replicas: 1\n", k)
		g.comment(&b, "  ", 2)
		fmt.Fprintf(&b, "  image:\n    registry: %s\n    repository: %s\n    tag: %q\n    pullPolicy: IfNotPresent\n", registry, repository, tag)
		g.comment(&b, "  ", 2)
		b.WriteString("  args:\n    - --log-level={{ .Values.logLevel }}\n    - --namespace={{ .Release.Namespace }}\n")
		fmt.Fprintf(&b, "  env:\n    ENDPOINT: \"http://{{ .Release.Name }}-k%d.{{ .Release.Namespace }}.svc:8080\"\n    MODE: %s\n", k, g.word())
		fmt.Fprintf(&b, "  port: %d\n", 8000+k)
		g.comment(&b, "  ", 3)
		b.WriteString("  resources:\n    requests:\n      cpu: 100m\n      memory: 128Mi\n    limits:\n      memory: 256Mi\n")
		b.WriteString("  securityContext:\n    runAsNonRoot: true\n    readOnlyRootFilesystem: true\n    allowPrivilegeEscalation: false\n")
		b.WriteString("  nodeSelector: {}\n  tolerations: []\n  annotations: {}\n")
		b.WriteString("  probes:\n    initialDelaySeconds: 5\n    periodSeconds: 10\n")
		b.WriteString("  affinity:\n    podAntiAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n        - weight: 100\n          podAffinityTerm:\n            topologyKey: kubernetes.io/hostname\n            labelSelector:\n              matchLabels:\n                app.kubernetes.io/instance: \"{{ .Release.Name }}\"\n")
		g.comment(&b, "  ", 2)
		b.WriteString("  config:\n")
		g.settings(&b, "    ", 0, 3+g.r.IntN(5))
	}
	for e := range extra {
		g.comment(&b, "", 2+g.r.IntN(6))
		fmt.Fprintf(&b, "%s%d:\n", g.word(), e)
		g.settings(&b, "  ", 0, 4+g.r.IntN(8))
	}
	return b.String()
}

// settings writes n commented keys of nested configuration.
func (g *gen) settings(b *strings.Builder, indent string, depth, n int) {
	for f := range n {
		if g.r.IntN(2) == 0 {
			g.comment(b, indent, 1+g.r.IntN(3))
		}
		key := fmt.Sprintf("%s%d", g.word(), f)
		switch {
		case depth < 3 && g.r.IntN(4) == 0:
			fmt.Fprintf(b, "%s%s:\n", indent, key)
			g.settings(b, indent+"  ", depth+1, 2+g.r.IntN(5))
		case g.r.IntN(3) == 0:
			fmt.Fprintf(b, "%s%s: %d\n", indent, key, g.r.IntN(10000))
		case g.r.IntN(2) == 0:
			fmt.Fprintf(b, "%s%s: %t\n", indent, key, g.r.IntN(2) == 0)
		default:
			fmt.Fprintf(b, "%s%s: %s-%s\n", indent, key, g.word(), g.word())
		}
	}
}

// helpers is a _helpers.tpl: the usual names and labels, a template per
// workload that includes them in a chain, value rendering through tpl, and
// extra commented helpers.
func (g *gen) helpers(p string, extra int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{{/*
Expand the name of the chart.
*/}}
{{- define "%[1]s.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A default fully qualified app name, truncated at 63 characters.
*/}}
{{- define "%[1]s.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "%[1]s.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%%s-%%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "%[1]s.chart" -}}
{{- printf "%%s-%%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "%[1]s.selectorLabels" -}}
app.kubernetes.io/name: {{ include "%[1]s.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "%[1]s.labels" -}}
helm.sh/chart: {{ include "%[1]s.chart" . }}
{{ include "%[1]s.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ tpl (toYaml .) $ }}
{{- end }}
{{- end }}

{{/*
The image of a workload: its registry (or the global one), repository and tag.
*/}}
{{- define "%[1]s.image" -}}
{{- $registry := .image.registry | default .root.Values.global.imageRegistry -}}
{{- printf "%%s/%%s:%%s" (tpl $registry .root) .image.repository (.image.tag | default .root.Chart.AppVersion | toString) -}}
{{- end }}

{{- define "%[1]s.component.fullname" -}}
{{- printf "%%s-%%s" (include "%[1]s.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "%[1]s.component.selectorLabels" -}}
{{ include "%[1]s.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "%[1]s.component.labels" -}}
{{ include "%[1]s.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "%[1]s.render" -}}
{{- if typeIs "string" .value }}
{{- tpl .value .context }}
{{- else }}
{{- tpl (.value | toYaml) .context }}
{{- end }}
{{- end }}
`, p)
	for e := range extra {
		b.WriteString("\n{{/*\n")
		for range 2 + g.r.IntN(4) {
			b.WriteString(g.sentence() + "\n")
		}
		b.WriteString("*/}}\n")
		switch e % 3 {
		case 0:
			fmt.Fprintf(&b, "{{- define \"%s.validate.%s%d\" -}}\n{{- if and .Values.%s%d (not (kindIs \"map\" .Values.k0)) }}\n{{- fail \"k0 must be a map\" }}\n{{- end }}\n{{- end }}\n", p, g.word(), e, g.word(), e)
		case 1:
			fmt.Fprintf(&b, "{{- define \"%s.annotations.%d\" -}}\n{{- $out := dict }}\n{{- range $k, $v := .Values.commonLabels }}\n{{- $_ := set $out (printf \"%%s/%d\" $k) (tpl $v $) }}\n{{- end }}\n{{- toYaml $out }}\n{{- end }}\n", p, e, e)
		default:
			fmt.Fprintf(&b, "{{- define \"%s.port.%d\" -}}\n{{- $port := .Values.k0.port | int }}\n{{- if gt $port 0 }}{{ add $port %d }}{{ else }}{{ %d }}{{ end }}\n{{- end }}\n", p, e, e, 9000+e)
		}
	}
	return b.String()
}

func (g *gen) deployment(p string, k int) string {
	return fmt.Sprintf(object("apps/v1", "Deployment", true)+`  {{- with .Values.k%[2]d.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  replicas: {{ .Values.k%[2]d.replicas }}
  selector:
    matchLabels:
      {{- include "%[1]s.component.selectorLabels" $c | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "%[1]s.component.selectorLabels" $c | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/k%[2]d-configmap.yaml") . | sha256sum }}
    spec:
      serviceAccountName: {{ include "%[1]s.component.fullname" $c }}
      {{- with .Values.k%[2]d.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.k%[2]d.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: k%[2]d
          image: {{ include "%[1]s.image" (dict "image" .Values.k%[2]d.image "root" $) }}
          imagePullPolicy: {{ .Values.k%[2]d.image.pullPolicy }}
          args:
            {{- range .Values.k%[2]d.args }}
            - {{ tpl . $ | quote }}
            {{- end }}
          env:
            {{- range $k, $v := .Values.k%[2]d.env }}
            - name: {{ $k }}
              value: {{ tpl (toString $v) $ | quote }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.k%[2]d.port }}
          volumeMounts:
            - name: config
              mountPath: /etc/k%[2]d
          {{- if .Values.k%[2]d.probes }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: {{ .Values.k%[2]d.probes.initialDelaySeconds | default 10 }}
            periodSeconds: {{ .Values.k%[2]d.probes.periodSeconds | default 10 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: {{ .Values.k%[2]d.probes.periodSeconds | default 10 }}
          {{- end }}
          resources:
            {{- include "%[1]s.render" (dict "value" .Values.k%[2]d.resources "context" $) | nindent 12 }}
          securityContext:
            {{- toYaml .Values.k%[2]d.securityContext | nindent 12 }}
      {{- with .Values.k%[2]d.affinity }}
      affinity:
        {{- include "%[1]s.render" (dict "value" . "context" $) | nindent 8 }}
      {{- end }}
      {{- if gt (int .Values.k%[2]d.replicas) 1 }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "%[1]s.component.selectorLabels" $c | nindent 14 }}
      {{- end }}
      securityContext:
        fsGroup: 65534
        seccompProfile:
          type: RuntimeDefault
      volumes:
        - name: config
          configMap:
            name: {{ include "%[1]s.component.fullname" $c }}
{{- end }}
`, p, k)
}

func (g *gen) service(p string, k int) string {
	return fmt.Sprintf(object("v1", "Service", true)+`spec:
  type: ClusterIP
  ports:
    - name: http
      port: {{ .Values.k%[2]d.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "%[1]s.component.selectorLabels" $c | nindent 4 }}
{{- end }}
`, p, k)
}

func (g *gen) configMap(p string, k int) string {
	return fmt.Sprintf(object("v1", "ConfigMap", true)+`data:
  config.yaml: |
    {{- include "%[1]s.render" (dict "value" .Values.k%[2]d.config "context" $) | nindent 4 }}
  log-level: {{ .Values.logLevel | quote }}
{{- end }}
`, p, k)
}

func (g *gen) serviceAccount(p string, k int) string {
	return fmt.Sprintf(object("v1", "ServiceAccount", true)+`automountServiceAccountToken: true
{{- end }}
`, p, k)
}

func (g *gen) rbac(p string, k int) string {
	var rules strings.Builder
	for range 3 + g.r.IntN(6) {
		fmt.Fprintf(&rules, "  - apiGroups: [\"%s.example.io\"]\n    resources: [\"%ss\", \"%ss/status\"]\n    verbs: [\"get\", \"list\", \"watch\", \"update\", \"patch\"]\n", g.word(), g.word(), g.word())
	}
	return fmt.Sprintf(object("rbac.authorization.k8s.io/v1", "Role", true)+`rules:
%[3]s---
`+object("rbac.authorization.k8s.io/v1", "RoleBinding", false)+`roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "%[1]s.component.fullname" $c }}
subjects:
  - kind: ServiceAccount
    name: {{ include "%[1]s.component.fullname" $c }}
    namespace: {{ .Release.Namespace }}
{{- end }}
`, p, k, rules.String())
}

// object is the start of a workload's object in a template (a format for
// fmt.Sprintf with the chart's prefix as %[1]s and the workload as %[2]d):
// apiVersion, kind, and metadata with the helpers' name and labels, after
// the workload's enabled guard when guarded.
func object(apiVersion, kind string, guarded bool) string {
	guard := ""
	if guarded {
		guard = "{{- if .Values.k%[2]d.enabled }}\n{{- $c := dict \"root\" . \"component\" \"k%[2]d\" }}\n"
	}
	return guard + "apiVersion: " + apiVersion + "\nkind: " + kind + `
metadata:
  name: {{ include "%[1]s.component.fullname" $c }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "%[1]s.component.labels" $c | nindent 4 }}
`
}

func networkPolicy(p string) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "%[1]s.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "%[1]s.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "%[1]s.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector: {}
`, p)
}

// dashboard is a Grafana-like JSON dashboard of about size bytes.
func (g *gen) dashboard(size int) string {
	var b strings.Builder
	b.WriteString("{\n  \"title\": \"" + g.word() + "\",\n  \"schemaVersion\": 39,\n  \"panels\": [\n")
	for p := 0; b.Len() < size; p++ {
		if p > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "    {\"id\": %d, \"type\": \"timeseries\", \"title\": %q, \"description\": %q, \"gridPos\": {\"h\": 8, \"w\": 12, \"x\": %d, \"y\": %d},\n     \"targets\": [{\"expr\": \"sum(rate(%s_%s_total{namespace=\\\"$namespace\\\"}[5m])) by (pod)\", \"legendFormat\": \"{{pod}}\"}]}",
			p, g.sentence(), g.sentence(), (p%2)*12, p/2*8, g.word(), g.word())
	}
	b.WriteString("\n  ]\n}\n")
	return b.String()
}

func dashboardsTemplate(p string) string {
	return fmt.Sprintf(`{{- range $path, $_ := .Files.Glob "files/dashboards/*.json" }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "%[1]s.fullname" $ }}-{{ base $path | trimSuffix ".json" }}
  namespace: {{ $.Release.Namespace }}
  labels:
    grafana_dashboard: "1"
    {{- include "%[1]s.labels" $ | nindent 4 }}
data:
  {{ base $path }}: |-
    {{- $.Files.Get $path | nindent 4 }}
{{- end }}
`, p)
}

// readme is an upstream chart's README: prose and a table of parameters.
func (g *gen) readme(chart string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", chart)
	for range 6 {
		b.WriteString(g.sentence() + " ")
	}
	b.WriteString("\n\n## Parameters\n\n| Name | Description | Value |\n| ---- | ----------- | ----- |\n")
	for k := range n {
		for _, f := range []string{"enabled", "replicas", "image.registry", "image.repository", "image.tag", "args", "env", "port", "resources", "config"} {
			fmt.Fprintf(&b, "| `k%d.%s` | %s | `\"\"` |\n", k, f, g.sentence())
		}
	}
	return b.String()
}

// library is the names template of a library chart, Bitnami common style.
func (g *gen) library() string {
	var b strings.Builder
	b.WriteString(`{{- define "common.names.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "common.names.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}
`)
	for e := range 10 + g.r.IntN(20) {
		fmt.Fprintf(&b, "\n{{/*\n%s\n%s\n*/}}\n{{- define \"common.%s.%d\" -}}\n{{- $v := .value | default dict -}}\n{{- range $k, $x := $v }}\n{{ $k }}: {{ include \"common.tplvalues.render\" (dict \"value\" $x \"context\" $.context) }}\n{{- end -}}\n{{- end -}}\n", g.sentence(), g.sentence(), g.word(), e)
	}
	return b.String()
}

const tplValues = `{{/*
Renders a value that contains template.
*/}}
{{- define "common.tplvalues.render" -}}
{{- if typeIs "string" .value }}
{{- tpl .value .context }}
{{- else }}
{{- tpl (.value | toYaml) .context }}
{{- end }}
{{- end -}}
`

// Stats are the figures the issue describing the reference platform gives
// for its charts, measured on a written catalog.
type Stats struct {
	Charts int
	// Bytes is all chart sources; TemplateBytes what lies under a
	// templates/ directory (a vendored chart's too).
	Bytes, TemplateBytes int64
	// LargestTemplatesCRD is the largest CRD file under a templates/ dir.
	LargestTemplatesCRD int64
	// CRDDirBytes is everything under crds/ directories.
	CRDDirBytes int64
	// MostTemplates is the most template files one chart has (its own and
	// its subcharts').
	MostTemplates int
	// Vendored charts have subcharts under charts/: Declared lists them
	// in Chart.yaml, and Library ones carry a library chart.
	Vendored, Declared, Library int
	// MedianBytes and MedianTemplates are the median chart's size and
	// number of files under templates/.
	MedianBytes     int64
	MedianTemplates int
}

func (s Stats) String() string {
	return fmt.Sprintf("%d charts, %.1f MB of chart sources of which %.1f MB templates (largest CRD file in templates/ %.1f MB; %.1f MB in crds/); most template files in one chart %d; %d with vendored subcharts (%d declared in Chart.yaml, %d with a library chart); median chart %.0f KB with %d templates",
		s.Charts, float64(s.Bytes)/1e6, float64(s.TemplateBytes)/1e6, float64(s.LargestTemplatesCRD)/1e6, float64(s.CRDDirBytes)/1e6, s.MostTemplates, s.Vendored, s.Declared, s.Library, float64(s.MedianBytes)/1e3, s.MedianTemplates)
}

// Measure reads the charts under dir/packages/system.
func Measure(dir string) (Stats, error) {
	var s Stats
	root := filepath.Join(dir, "packages", "system")
	charts, err := os.ReadDir(root)
	if err != nil {
		return s, err
	}
	var sizes []int64
	var counts []int
	for _, c := range charts {
		var size int64
		templates := 0
		vendored, declared, library := false, false, false
		err := filepath.WalkDir(filepath.Join(root, c.Name()), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel := filepath.ToSlash(strings.TrimPrefix(path, filepath.Join(root, c.Name())+string(filepath.Separator)))
			size += info.Size()
			parts := strings.Split(rel, "/")
			switch {
			case slices.Contains(parts, "templates"):
				s.TemplateBytes += info.Size()
				templates++
				if d.Name() == "crds.yaml" {
					s.LargestTemplatesCRD = max(s.LargestTemplatesCRD, info.Size())
				}
			case slices.Contains(parts, "crds"):
				s.CRDDirBytes += info.Size()
			}
			if parts[0] == "charts" {
				vendored = true
				if slices.Contains(parts[1:], "charts") {
					library = true
				}
			}
			if rel == "Chart.yaml" {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				declared = strings.Contains(string(b), "\ndependencies:")
			}
			return nil
		})
		if err != nil {
			return s, err
		}
		s.Charts++
		s.Bytes += size
		sizes = append(sizes, size)
		counts = append(counts, templates)
		s.MostTemplates = max(s.MostTemplates, templates)
		if vendored {
			s.Vendored++
			if declared {
				s.Declared++
			}
			if library {
				s.Library++
			}
		}
	}
	slices.Sort(sizes)
	slices.Sort(counts)
	if len(sizes) > 0 {
		s.MedianBytes, s.MedianTemplates = sizes[len(sizes)/2], counts[len(counts)/2]
	}
	return s, nil
}
