{{- define "log-shipper.labels" -}}
app.kubernetes.io/name: log-shipper
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
