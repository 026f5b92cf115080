{{- define "kubernetes.labels" -}}
app.kubernetes.io/name: kubernetes
app.kubernetes.io/instance: {{ .Release.Name }}
cluster.x-k8s.io/cluster-name: {{ .Release.Name }}
{{- end }}
